// Equipment: the list by building, and one piece of equipment with its current values, a
// chart of the last 24 hours, its recent alarms and its work orders.

import { alarmItem, alarmSignature } from './alarms.js';
import { api } from './api.js';
import { alarmActions, alarmActionSignature, reportProblem } from './equipment_actions.js';
import { assetTools, registerEditor, registerFacts, registerOnlyNote } from './asset_register.js';
import { lineChart, summary } from './chart.js';
import { ago, badge, formatValue, h, reconcile, showError } from './dom.js';
import { t, term, unitText } from './i18n.js';
import { compareJobs, jobCard } from './job_card.js';
import { MaintenanceBox, maintenanceSignature } from './maintenance.js';
import { equipmentHref, severalSites, siteName } from './sites.js';

const REFRESH_MS = 15000;
const OPEN = ['open', 'acknowledged', 'in_progress', 'on_hold'].map((s) => `&status=${s}`).join('');

export class EquipmentListView {
  constructor(ctx) {
    this.ctx = ctx;
    this.title = t('nav.equipment');
  }

  mount(main) {
    this.body = h('div', {}, h('p', {}, t('common.loading')));
    const tools = assetTools(this.ctx.user, () => this.refresh().catch(() => {}));
    main.replaceChildren(h('h1', { tabindex: -1 }, t('nav.equipment')), ...(tools ? [tools] : []), this.body);
    this.timer = setInterval(() => this.refresh().catch(() => {}), REFRESH_MS);
  }

  unmount() {
    clearInterval(this.timer);
  }

  async refresh() {
    const page = await api('/api/equipment');
    const buildings = new Map();
    for (const e of page.items) {
      const key = `${e.site ?? ''}/${e.building}`; // a building of one site
      if (!buildings.has(key)) buildings.set(key, []);
      buildings.get(key).push(e);
    }
    const many = severalSites();
    this.body.replaceChildren(
      ...[...buildings.values()].map((items, n) =>
        h(
          'section',
          { 'aria-labelledby': `b-${n}` },
          h(
            'h2',
            { id: `b-${n}` },
            t('equipment.building_heading', { id: items[0].building }),
            many && items[0].site ? h('span', { class: 'meta' }, ` · ${siteName(items[0].site)}`) : null,
          ),
          h(
            'ul',
            { class: 'rows' },
            items.map((e) =>
              h(
                'li',
                {},
                h('a', { href: equipmentHref(e.id, e.site) }, e.name ?? e.id),
                h('span', { class: 'meta' }, ' ', [term('kind', e.kind), e.floor && t('equipment.floor', { floor: e.floor })].filter(Boolean).join(' · '), ' '),
                e.connected ? badge('equipment', e.status) : registerOnlyNote(),
              ),
            ),
          ),
        ),
      ),
    );
  }
}

const chartable = (value) => typeof value === 'number' || typeof value === 'boolean';

// A point's name in words: the catalog's for a canonical point, else its own name.
const pointName = (name) => term('point', name);

export class EquipmentView {
  // `site`: the equipment's, from the address (none: the one site the caller sees `id` at)
  constructor(ctx, id, site = null) {
    this.ctx = ctx;
    this.id = id;
    this.site = site;
    this.title = id;
    this.point = null;
    this.cardCtx = {
      user: ctx.user,
      changed: () => this.refresh().catch((e) => showError(e.message)),
      settled: () => {},
    };
  }

  mount(main) {
    this.main = main;
    const id = this.id;
    this.heading = h('h1', { tabindex: -1 }, id);
    this.facts = h('dl', { class: 'facts' });
    this.values = h('tbody');
    this.pointSelect = h('select', { id: 'point', onchange: () => this.choosePoint() });
    this.chart = h('div', { class: 'chart-box' });
    this.caption = h('figcaption', { id: 'chart-desc' });
    this.alarmList = h('ul', { class: 'cards', 'aria-labelledby': 'eq-alarms-h' });
    this.jobList = h('ul', { class: 'cards', 'aria-labelledby': 'eq-jobs-h' });
    this.noAlarms = h('p', { class: 'empty', hidden: true }, t('equipment.no_alarms'));
    this.noJobs = h('p', { class: 'empty', hidden: true }, t('equipment.no_jobs'));
    this.report = h('div');
    this.maintenance = new MaintenanceBox(this.ctx.user, () => this.refresh().catch((e) => showError(e.message)));
    this.register = h('div');
    main.replaceChildren(
      h('p', { class: 'back' }, h('a', { href: '#/equipment' }, t('equipment.all'))),
      this.heading,
      this.facts,
      this.maintenance.el,
      this.register,
      h(
        'section',
        { 'aria-labelledby': 'eq-jobs-h' },
        h('h2', { id: 'eq-jobs-h' }, t('equipment.open_jobs')),
        this.noJobs,
        this.jobList,
      ),
      h(
        'section',
        { 'aria-labelledby': 'eq-alarms-h' },
        h('h2', { id: 'eq-alarms-h' }, t('equipment.recent_alarms')),
        this.noAlarms,
        this.alarmList,
      ),
      h(
        'section',
        { 'aria-labelledby': 'values-h' },
        h('h2', { id: 'values-h' }, t('equipment.values')),
        h(
          'table',
          { class: 'values' },
          h(
            'thead',
            {},
            h('tr', {}, h('th', { scope: 'col' }, t('equipment.point')), h('th', { scope: 'col' }, t('equipment.value'))),
          ),
          this.values,
        ),
      ),
      h(
        'section',
        { 'aria-labelledby': 'chart-h' },
        h('h2', { id: 'chart-h' }, t('equipment.last_24h')),
        h('div', { class: 'field' }, h('label', { for: 'point' }, t('equipment.point')), this.pointSelect),
        h('figure', {}, this.chart, this.caption),
      ),
      this.report,
    );
    this.timer = setInterval(() => this.refreshEquipment().catch(() => {}), REFRESH_MS);
  }

  unmount() {
    clearInterval(this.timer);
  }

  async refresh() {
    const charted = this.point !== null; // else the first look at the values picks one and draws
    if (this.site) {
      await Promise.all([this.refreshEquipment(), this.refreshLists()]);
    } else {
      // an address without the site (an old label): the equipment's site first, for the lists
      try {
        await this.refreshEquipment();
      } catch (e) {
        if (e.status === 409) return this.chooseSite(); // the id is at several of the caller's sites
        throw e;
      }
      await this.refreshLists();
    }
    if (charted) await this.drawChart();
  }

  // The id is at several sites the caller sees: a link to each one's page instead.
  async chooseSite() {
    const page = await api('/api/equipment');
    const here = page.items.filter((e) => e.id === this.id);
    clearInterval(this.timer);
    this.main.replaceChildren(
      this.main.firstChild, // the way back to the list
      this.heading,
      h('p', {}, t('equipment.which_site', { id: this.id })),
      h(
        'ul',
        { class: 'rows' },
        here.map((e) => h('li', {}, h('a', { href: equipmentHref(e.id, e.site) }, siteName(e.site)), ` · ${t('equipment.building', { id: e.building })}`)),
      ),
    );
  }

  // `?site=` (or `&site=`) of this equipment's site, once known
  of(sep = '?') {
    return this.site ? `${sep}site=${encodeURIComponent(this.site)}` : '';
  }

  async refreshEquipment() {
    const e = await api(`/api/equipment/${encodeURIComponent(this.id)}${this.of()}`);
    this.site = e.site ?? this.site; // from here on, the site of the equipment found
    this.heading.textContent = e.name ? `${e.name} (${e.id})` : e.id;
    document.title = t('frame.title', { page: e.id });
    this.units = e.units ?? {};
    const fact = (name, ...value) => [h('dt', {}, name), h('dd', {}, ...value)];
    this.facts.replaceChildren(
      ...(e.connected ? fact(t('equipment.status'), badge('equipment', e.status)) : []),
      ...(severalSites() && e.site ? fact(t('site.label'), siteName(e.site)) : []),
      ...fact(t('equipment.kind'), term('kind', e.kind)),
      ...fact(
        t('equipment.where'),
        [t('equipment.building', { id: e.building }), e.floor && t('equipment.floor', { floor: e.floor }), e.zone]
          .filter(Boolean)
          .join(' · '),
      ),
      ...(e.connected ? fact(t('equipment.last_seen'), ago(e.last_seen)) : []),
      ...registerFacts(e),
    );
    this.maintenance
      .refresh(e)
      .then((changed) => changed && this.refreshLists())
      .catch(() => {});
    if (!this.register.firstChild) {
      const saved = () => {
        this.register.replaceChildren();
        this.refreshEquipment().catch((err) => showError(err.message));
      };
      const editor = registerEditor(e, this.ctx.user, saved);
      if (editor) this.register.append(editor);
    }
    if (!this.report.firstChild) {
      this.report.append(
        reportProblem(e, (job) => {
          this.refreshLists().catch((err) => showError(err.message));
          location.hash = `#/jobs/${encodeURIComponent(job.number)}`;
        }),
      );
    }
    // a register-only asset has no telemetry: no values, no chart
    for (const part of [this.values, this.chart]) part.closest('section').hidden = !e.connected;
    if (!e.connected) return;
    const names = Object.keys(e.last_values).sort();
    this.values.replaceChildren(
      ...(names.length
        ? names.map((n) => h('tr', {}, h('th', { scope: 'row' }, pointName(n)), h('td', {}, formatValue(e.last_values[n], this.units[n]))))
        : [h('tr', {}, h('td', { colspan: 2 }, t('equipment.no_telemetry')))]),
    );
    const points = names.filter((n) => chartable(e.last_values[n]));
    const current = [...this.pointSelect.options].map((o) => o.value).join();
    if (current !== points.join()) {
      this.pointSelect.replaceChildren(...points.map((p) => h('option', { value: p }, pointName(p))));
      if (this.point !== null && points.includes(this.point)) this.pointSelect.value = this.point;
    }
    this.pointSelect.disabled = points.length === 0;
    if (this.point === null && points.length) {
      this.point = points.find((p) => typeof e.last_values[p] === 'number') ?? points[0];
      this.pointSelect.value = this.point;
      await this.drawChart();
    } else if (!points.length) {
      this.chart.replaceChildren();
      this.caption.textContent = t('chart.no_points');
    }
  }

  async refreshLists() {
    const id = `${encodeURIComponent(this.id)}${this.of('&')}`;
    const [alarms, jobs] = await Promise.all([
      api(`/api/alarms?equipment_id=${id}&limit=10`),
      api(`/api/work-orders?equipment_id=${id}${OPEN}&limit=50`),
    ]);
    const states = new Map(alarms.items.map((a) => [a.id, a.state]));
    const changed = () => this.refreshLists().catch((e) => showError(e.message));
    reconcile(this.alarmList, alarms.items, {
      key: (a) => a.id,
      signature: (a) => `${alarmSignature(a)}|${alarmActionSignature(a)}`,
      render: (a) => {
        const item = alarmItem(a);
        item.append(alarmActions(a, changed));
        return item;
      },
    });
    const sorted = [...jobs.items].sort(compareJobs);
    reconcile(this.jobList, sorted, {
      key: (wo) => wo.id,
      signature: (wo) => [wo.status, wo.updated_at, states.get(wo.alarm_id) ?? '', maintenanceSignature(wo)].join('|'),
      render: (wo) => jobCard(wo, this.cardCtx, { alarms: states }),
    });
    this.noAlarms.hidden = alarms.items.length > 0;
    this.noJobs.hidden = jobs.items.length > 0;
  }

  choosePoint() {
    this.point = this.pointSelect.value;
    this.drawChart().catch((e) => showError(e.message));
  }

  async drawChart() {
    const point = this.point;
    const history = await api(
      `/api/equipment/${encodeURIComponent(this.id)}/history?point=${encodeURIComponent(point)}&hours=24${this.of('&')}`,
    );
    if (point !== this.point) return; // another point was chosen meanwhile
    const titleId = 'chart-title';
    const unit = this.units[point];
    const named = unitText(unit) ? t('chart.point_unit', { point: pointName(point), unit: unitText(unit) }) : pointName(point);
    const title = h('p', { id: titleId, class: 'chart-title' }, t('chart.title', { point: named, hours: history.hours }));
    const svg = history.points.length ? lineChart(history, { titleId, descId: 'chart-desc', unit }) : null;
    this.chart.replaceChildren(title, ...(svg ? [svg] : []));
    this.caption.textContent = summary(history, unit);
  }

  // whether `record` names this equipment (the same id at another site is another's)
  names(record) {
    return record.equipment_id === this.id && (!this.site || !record.site || record.site === this.site);
  }

  workOrder({ work_order: wo }) {
    if (this.names(wo)) this.refreshLists().catch((e) => showError(e.message));
  }

  alarm({ alarm }) {
    if (this.names(alarm)) {
      this.refreshLists().catch((e) => showError(e.message));
      this.refreshEquipment().catch(() => {});
    }
  }
}
