// One job's page: its card with the actions, its description, its fault and its history.

import { api } from './api.js';
import { badge, clockTime, h, showError, timeEl } from './dom.js';
import { t, term } from './i18n.js';
import { jobCard, tickDue } from './job_card.js';
import { commentsSection, photosSection, signOffSection } from './job_media.js';
import { checklistSection } from './job_work.js';
import { messagesSection } from './job_messages.js';
import { overlay } from './outbox.js';
import { heldNotice } from './outbox_view.js';
import { reportersSection } from './reporters.js';

export class JobView {
  constructor(ctx, id) {
    this.ctx = ctx;
    this.id = Number(id);
    this.title = t('job.title');
    this.cardCtx = {
      user: ctx.user,
      changed: (wo) => this.show(wo, { focus: true }),
      settled: () => {},
    };
  }

  mount(main) {
    this.heading = h('h1', { tabindex: -1 }, t('job.title'));
    this.body = h('div', { class: 'job' }, h('p', {}, t('common.loading')));
    main.replaceChildren(h('p', { class: 'back' }, h('a', { href: '#/jobs' }, t('job.all'))), this.heading, this.body);
    this.tick = setInterval(() => tickDue(main), 30000);
    // A sign-off or a photo caption being written, or a signature drawn, and not yet sent:
    // kept until the page is next drawn from the job, which the person's own action does.
    // (The focus leaves the name for the pad, so "someone typing" does not cover it.)
    this.unsaved = false;
    this.body.addEventListener('input', (e) => { if (e.target.closest('.signoff, .photos')) this.unsaved = true; });
    // …until it is sent (or cleared) with one of the section's buttons
    this.body.addEventListener('click', (e) => { if (e.target.closest('.signoff button, .photos button')) this.unsaved = false; });
    this.body.addEventListener('pointerdown', (e) => { if (e.target.closest('canvas')) this.unsaved = true; });
    // a photo chosen is sent with its caption: nothing of the section is left unsent
    this.body.addEventListener('change', (e) => { if (e.target.matches('.photos input[type=file]')) this.unsaved = false; });
    // an action of this job sent, kept or refused: show the job as it is now (but not from
    // under someone typing, nor over what they have typed or drawn and not sent)
    this.onOutbox = ({ detail }) => {
      if (detail.job !== null && detail.job !== this.id) return;
      const typing = document.activeElement?.matches('input, textarea') ?? false;
      if (this.unsaved || typing) {
        this.stale = true; // drawn again once the person leaves the field (below)
        return;
      }
      this.reload().catch((e) => showError(e.message));
    };
    this.stale = false;
    this.body.addEventListener('focusout', (e) => {
      if (!this.stale || this.unsaved || e.relatedTarget?.matches?.('input, textarea')) return;
      this.reload().catch((err) => showError(err.message));
    });
    window.addEventListener('plantroom:outbox', this.onOutbox);
  }

  unmount() {
    clearInterval(this.tick);
    window.removeEventListener('plantroom:outbox', this.onOutbox);
  }

  async refresh() {
    this.show(await api(`/api/work-orders/${this.id}`));
  }

  async reload(options = {}) {
    const served = await api(`/api/work-orders/${this.id}`);
    // The answer may come after the person began a sign-off or a caption, or drew: keep
    // what they have not sent, and draw the job once they leave it.
    if (this.unsaved) {
      this.stale = true;
      return;
    }
    this.show(served, { force: true, ...options });
  }

  show(served, { focus = false, force = false, focusStep = null } = {}) {
    if (this.body.querySelector('form.note')) return; // do not pull the form from under someone
    if (!force && this.body.contains(document.activeElement?.closest('.work') ?? null)) return; // nor a step being worked
    if (!force && this.unsaved) return; // nor a name typed or a signature drawn, not yet sent
    const wo = overlay(served); // with the actions still waiting to be sent
    this.wo = wo;
    this.unsaved = false; // the page is drawn anew from the job
    this.stale = false;
    this.heading.textContent = wo.number;
    document.title = t('frame.title', { page: wo.number });
    const alarms = wo.alarm ? new Map([[wo.alarm.id, wo.alarm.state]]) : new Map();
    const card = jobCard(wo, this.cardCtx, { alarms, headingLevel: 'h2', link: false });
    const parts = [
      heldNotice(wo.id),
      h('ul', { class: 'cards' }, card),
      wo.description ? h('section', { 'aria-labelledby': 'desc-h' }, h('h2', { id: 'desc-h' }, t('job.description')), h('p', { class: 'pre' }, wo.description)) : null,
      wo.alarm ? alarmSection(wo.alarm) : null,
      ...this.workSections(wo),
      ...(wo.kind === 'pm' ? [] : [reportersSection(wo.id)]),
      messagesSection(wo.number),
      h(
        'section',
        { 'aria-labelledby': 'history-h' },
        h('h2', { id: 'history-h' }, t('job.history')),
        h('ol', { class: 'timeline' }, wo.events.map(eventItem)),
      ),
    ];
    this.body.replaceChildren(...parts.filter(Boolean)); // a null child would show as text
    const answered = focusStep === null ? null : this.body.querySelector(`[data-step="${focusStep}"]`);
    const step = answered && (this.body.querySelector(`[data-step="${focusStep + 1}"]`) ?? answered);
    // The next step takes the focus where the page is: scrolling to it would move the step
    // just answered off the screen, with what the answer says (who gave it, out of limits,
    // its follow-up job); typing or tabbing brings the field into view. The page moves only
    // as far as shows the answer's last line.
    if (step) {
      step.querySelector('input, button')?.focus({ preventScroll: true });
      const said = [...answered.children].filter((el) => el.offsetHeight > 0).at(-1);
      said?.scrollIntoView({ block: 'nearest' });
    } else if (focus) (card.querySelector('.actions button') ?? this.heading).focus();
  }

  // The job worked on site: checklist with readings, photos, sign-off, comments.
  workSections(wo) {
    const ctx = {
      user: this.ctx.user,
      changed: (updated, options = {}) => this.show(updated, { force: true, ...options }),
      reload: (options) => this.reload(options),
    };
    return [checklistSection(wo, ctx), photosSection(wo, ctx), signOffSection(wo, ctx), commentsSection(wo, ctx)];
  }

  workOrder({ work_order: wo }) {
    if (wo.id === this.id) this.refresh().catch((e) => showError(e.message));
  }

  alarm({ alarm }) {
    if (this.wo?.alarm_id === alarm.id) this.refresh().catch((e) => showError(e.message));
  }
}

function alarmSection(alarm) {
  return h(
    'section',
    { 'aria-labelledby': 'alarm-h' },
    h('h2', { id: 'alarm-h' }, t('job.fault')),
    h(
      'p',
      {},
      badge('severity', alarm.severity),
      ' ',
      badge('alarm', alarm.state),
      ' ',
      alarm.message,
    ),
    h(
      'p',
      { class: 'meta' },
      t('job.raised'),
      ' ',
      timeEl(alarm.raised_at),
      alarm.occurrences > 1 ? ` · ${t('alarms.times', { n: alarm.occurrences })}` : null,
      alarm.cleared_at ? [' · ', t('alarms.cleared_at'), ' ', timeEl(alarm.cleared_at)] : null,
    ),
  );
}

function eventItem(event) {
  const change = event.to_status && event.from_status ? ` (${term('status', event.from_status)} → ${term('status', event.to_status)})` : '';
  return h(
    'li',
    {},
    h('p', {}, h('strong', {}, term('event', event.action)), change, ' ', t('job.by', { actor: event.actor === 'system' ? t('job.system') : event.actor }), ' · ', timeEl(event.at, clockTime(event.at))),
    event.note ? h('p', { class: 'pre note-text' }, event.note) : null,
  );
}
