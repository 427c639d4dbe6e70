// Alarms: what the rules have raised, newest first, updated live.

import { api } from './api.js';
import { ago, badge, h, reconcile, timeEl } from './dom.js';
import { alarmActions, alarmActionSignature } from './equipment_actions.js';
import { t } from './i18n.js';
import { equipmentLink } from './sites.js';

export function alarmItem(alarm) {
  return h(
    'li',
    { class: `card alarm-${alarm.state}` },
    h(
      'div',
      { class: 'card-head' },
      badge('severity', alarm.severity),
      badge('alarm', alarm.state),
      alarm.acknowledged ? h('span', { class: 'chip' }, t('alarms.acknowledged')) : null,
    ),
    h('p', { class: 'card-title' }, alarm.message),
    h(
      'p',
      { class: 'meta' },
      equipmentLink(alarm.equipment_id, alarm.site),
      ' · ',
      t('alarms.raised'),
      ' ',
      timeEl(alarm.raised_at),
      ` (${ago(alarm.last_raised_at)})`,
      alarm.occurrences > 1 ? ` · ${t('alarms.times', { n: alarm.occurrences })}` : null,
      alarm.cleared_at ? [' · ', t('alarms.cleared_at'), ' ', timeEl(alarm.cleared_at)] : null,
    ),
  );
}

export const alarmSignature = (a) =>
  [a.state, a.occurrences, a.last_raised_at, a.cleared_at ?? '', a.acknowledged].join('|');

const byNewest = (a, b) => Date.parse(b.last_raised_at) - Date.parse(a.last_raised_at) || b.id - a.id;

export class AlarmsView {
  constructor(ctx) {
    this.ctx = ctx;
    this.title = t('nav.alarms');
    this.show = 'active';
    this.alarms = new Map();
  }

  mount(main) {
    this.list = h('ul', { class: 'cards', 'aria-labelledby': 'alarms-h' });
    this.empty = h('p', { class: 'empty', hidden: true }, t('alarms.none'));
    this.count = h('span', { class: 'count' });
    const choices = ['active', 'cleared', 'all'].map((value) =>
      h(
        'label',
        { class: 'choice' },
        h('input', {
          type: 'radio',
          name: 'alarm-state',
          value,
          checked: value === this.show,
          onchange: () => {
            this.show = value;
            this.refresh();
          },
        }),
        t(`alarms.show_${value}`),
      ),
    );
    main.replaceChildren(
      h('h1', { tabindex: -1, id: 'alarms-h' }, t('nav.alarms'), ' ', this.count),
      h('fieldset', { class: 'segmented' }, h('legend', {}, t('alarms.show')), choices),
      this.empty,
      this.list,
    );
  }

  async refresh() {
    const state = this.show === 'all' ? '' : `&state=${this.show}`;
    const page = await api(`/api/alarms?limit=200${state}`);
    this.alarms = new Map(page.items.map((a) => [a.id, a]));
    this.render();
  }

  alarm({ alarm }) {
    this.alarms.set(alarm.id, alarm);
    this.render();
  }

  render() {
    const items = [...this.alarms.values()]
      .filter((a) => this.show === 'all' || a.state === this.show)
      .sort(byNewest);
    reconcile(this.list, items, {
      key: (a) => a.id,
      signature: (a) => `${alarmSignature(a)}|${alarmActionSignature(a)}`,
      render: (a) => {
        const item = alarmItem(a);
        item.append(alarmActions(a, (updated) => this.alarm({ alarm: updated })));
        return item;
      },
    });
    this.count.textContent = `(${items.length})`;
    this.empty.hidden = items.length > 0;
  }
}
