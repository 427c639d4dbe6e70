// A job's photos (taken with the phone's camera), its sign-off (a signature drawn on the
// screen with the signer's name) and its comments.

import { auth } from './api.js';
import { announce, clockTime, h, timeEl } from './dom.js';
import { t } from './i18n.js';
import { mayWork } from './job_work.js';
import { keptNotice, submit } from './outbox.js';

// An image of the API, fetched with the token (an <img src> cannot send it); one still on
// the device (not yet sent) is shown from its Blob.
function authImage(url, alt, blob = null) {
  const img = h('img', { alt, loading: 'lazy', width: 160, height: 120 });
  if (blob) {
    img.src = URL.createObjectURL(blob);
    return img;
  }
  fetch(url, { headers: { Authorization: `Bearer ${auth.token}` } })
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
    .then((blob) => { img.src = URL.createObjectURL(blob); })
    .catch(() => { img.alt = t('photos.unavailable', { alt }); });
  return img;
}

function failure(where, message) {
  where.querySelector('.card-error')?.remove();
  where.append(h('p', { class: 'card-error', role: 'alert' }, message));
}

export function photosSection(wo, ctx) {
  const pictures = (wo.photos ?? []).filter((p) => p.kind === 'photo');
  const section = h(
    'section',
    { 'aria-labelledby': 'photos-h', class: 'work photos' },
    h('h2', { id: 'photos-h' }, t('photos.heading')),
    pictures.length
      ? h('ul', { class: 'thumbs' }, pictures.map((p) => h('li', {},
        h('a', { href: '#', onclick: (e) => { e.preventDefault(); } }, authImage(`${p.url}?thumb=true`, p.caption ?? t('photos.alt', { by: p.added_by }), p.blob)),
        p.caption ? h('p', { class: 'meta' }, p.caption) : null,
        p.pending ? h('p', { class: 'pending' }, t('outbox.not_sent')) : null)))
      : h('p', { class: 'empty' }, t('photos.none')),
  );
  if (!mayWork(wo, ctx.user)) return section;
  const caption = h('input', { id: 'photo-caption', type: 'text', maxlength: 500, name: 'caption' });
  const file = h('input', { id: 'photo-file', type: 'file', accept: 'image/*', capture: 'environment', name: 'file', class: 'file' });
  file.addEventListener('change', async () => {
    if (!file.files.length) return;
    const parts = [['file', file.files[0], file.files[0].name || 'photo.jpg'], ['channel', 'console']];
    if (caption.value.trim()) parts.push(['caption', caption.value.trim()]);
    file.disabled = true;
    try {
      const done = await submit(wo.id, `/api/work-orders/${wo.id}/photos`, { parts });
      announce(done.sent ? t('photos.sent') : keptNotice(done, 'photos.kept'));
      await ctx.reload();
    } catch (e) {
      failure(section, e.message);
    } finally {
      file.disabled = false;
      file.value = '';
    }
  });
  section.append(
    h('div', { class: 'field' }, h('label', { for: 'photo-caption' }, t('photos.caption')), caption),
    h('div', { class: 'field' }, h('label', { for: 'photo-file', class: 'file-button' }, t('photos.add')), file),
  );
  return section;
}

export function signOffSection(wo, ctx) {
  const signature = [...(wo.photos ?? [])].reverse().find((p) => p.kind === 'signature');
  if (!wo.sign_off_required && !wo.signed_at) return null;
  const section = h('section', { 'aria-labelledby': 'signoff-h', class: 'work signoff' }, h('h2', { id: 'signoff-h' }, t('signoff.heading')));
  if (wo.signed_at) {
    const parts = [
      h('p', { class: 'signed' }, '✓ ', t('signoff.done', { name: wo.signed_by, time: clockTime(wo.signed_at) })),
      signature ? authImage(signature.url, t('signoff.alt', { name: wo.signed_by }), signature.blob) : null,
      signature?.pending ? h('p', { class: 'pending' }, t('outbox.not_sent')) : null,
    ];
    section.append(...parts.filter(Boolean)); // a null child would show as the text "null"
    return section;
  }
  section.append(h('p', { class: 'hint' }, wo.sign_off_required ? t('signoff.required') : t('signoff.optional')));
  if (!mayWork(wo, ctx.user)) return section;
  const name = h('input', { id: 'signer', type: 'text', maxlength: 128, name: 'signer', autocomplete: 'name' });
  const canvas = h('canvas', { id: 'signature-pad', class: 'pad', role: 'img', 'aria-label': t('signoff.pad'), width: 600, height: 200 });
  const pad = signaturePad(canvas);
  const button = h('button', { type: 'button', class: 'primary' }, t('signoff.submit'));
  button.addEventListener('click', async () => {
    if (!name.value.trim()) { name.focus(); return failure(section, t('signoff.signer')); }
    if (!pad.drawn) return failure(section, t('signoff.empty'));
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    const parts = [['signature', blob, 'signature.png'], ['signer', name.value.trim()], ['channel', 'console']];
    button.disabled = true;
    try {
      const done = await submit(wo.id, `/api/work-orders/${wo.id}/sign-off`, { parts });
      announce(done.sent ? t('signoff.saved') : keptNotice(done, 'signoff.kept'));
      if (done.sent) ctx.changed(done.answer);
      else await ctx.reload();
    } catch (e) {
      failure(section, e.message);
      button.disabled = false;
    }
  });
  section.append(
    h('div', { class: 'field' }, h('label', { for: 'signer' }, t('signoff.signer')), name),
    h('p', { class: 'hint', id: 'pad-hint' }, t('signoff.pad')),
    canvas,
    h('div', { class: 'actions' }, button, h('button', { type: 'button', class: 'secondary', onclick: () => pad.clear() }, t('signoff.clear'))),
  );
  return section;
}

// Drawing on a canvas with a finger, a pen or a mouse.
function signaturePad(canvas) {
  const ctx2d = canvas.getContext('2d');
  ctx2d.lineWidth = 3;
  ctx2d.lineCap = 'round';
  ctx2d.strokeStyle = '#102a43';
  const state = { drawn: false, last: null };
  const at = (e) => {
    const box = canvas.getBoundingClientRect();
    return [((e.clientX - box.left) * canvas.width) / box.width, ((e.clientY - box.top) * canvas.height) / box.height];
  };
  canvas.addEventListener('pointerdown', (e) => { canvas.setPointerCapture(e.pointerId); state.last = at(e); });
  canvas.addEventListener('pointermove', (e) => {
    if (!state.last) return;
    const next = at(e);
    ctx2d.beginPath();
    ctx2d.moveTo(...state.last);
    ctx2d.lineTo(...next);
    ctx2d.stroke();
    state.last = next;
    state.drawn = true;
  });
  for (const end of ['pointerup', 'pointercancel']) canvas.addEventListener(end, () => { state.last = null; });
  return {
    get drawn() { return state.drawn; },
    clear() { ctx2d.clearRect(0, 0, canvas.width, canvas.height); state.drawn = false; },
  };
}

export function commentsSection(wo, ctx) {
  const section = h(
    'section',
    { 'aria-labelledby': 'comments-h', class: 'work comments' },
    h('h2', { id: 'comments-h' }, t('comments.heading')),
    wo.comments?.length
      ? h('ul', { class: 'comment-list' }, wo.comments.map((c) => h('li', {}, h('p', { class: 'meta' }, t('comments.by', { author: c.author, time: '' }), timeEl(c.at, clockTime(c.at))), h('p', { class: 'pre' }, c.text), c.pending ? h('p', { class: 'pending' }, t('outbox.not_sent')) : null)))
      : h('p', { class: 'empty' }, t('comments.none')),
  );
  const text = h('textarea', { id: 'comment-text', name: 'text', rows: 2, maxlength: 4000 });
  const button = h('button', { type: 'submit', class: 'secondary' }, t('comments.submit'));
  const form = h('form', { class: 'comment-form' }, h('label', { for: 'comment-text' }, t('comments.label')), text, h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!text.value.trim()) return text.focus();
    button.disabled = true;
    try {
      const done = await submit(wo.id, `/api/work-orders/${wo.id}/comments`, { json: { text: text.value.trim(), channel: 'console' } });
      announce(done.sent ? t('comments.saved') : keptNotice(done, 'comments.kept'));
      await ctx.reload();
    } catch (e) {
      failure(form, e.message);
      button.disabled = false;
    }
  });
  section.append(form);
  return section;
}
