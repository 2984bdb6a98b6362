/* archcalc comparison page: the totals of several reports side by side, and params against MACs. */
(function () {
  const {el, svg, count, si, bytes, shape, data, conventions, logTicks} = ARCHCALC;
  const reports = (data('reports', []) || []).filter((r) => r && typeof r === 'object');
  const name = (r) => String((r.spec && r.spec.name) || '?');
  const T = (r) => r.totals || {};

  const ROWS = [   // as `archcalc compare` prints them
    ['Input', (r) => shape((r.spec || {}).input)],
    ['Parameters', (r) => count(T(r).params) + ' (' + si(T(r).params) + ')'],
    ['MACs / image', (r) => si(T(r).macs)],
    ['FLOPs / image', (r) => si(T(r).flops)],
    ['Activations / image', (r) => si(T(r).activations) + ' (' + bytes(T(r).activation_bytes) + ')'],
    ['Peak inference memory', (r) => bytes(T(r).peak_activation_bytes)],
    ['Training memory', (r) => bytes((T(r).training_memory || {}).total)],
    ['Receptive field', (r) => { const rf = T(r).rf || {}; return Array.isArray(rf.size) ? shape(rf.size) + ' at ' + rf.layer : 'n/a'; }],
    ['Depth (weight layers)', (r) => String(T(r).depth === undefined ? '—' : T(r).depth)],
  ];

  const table = document.getElementById('compare');
  table.appendChild(el('thead', {}, el('tr', {}, el('th'), ...reports.map((r) => el('th', {class: 'num', text: name(r)})))));
  const body = el('tbody');
  for (const [label, fn] of ROWS) body.appendChild(el('tr', {}, el('td', {text: label}), ...reports.map((r) => el('td', {class: 'num', text: fn(r)}))));
  table.appendChild(body);
  const first = reports[0] || {};
  document.getElementById('about').textContent = reports.length + ' networks · per image unless stated; memory at '
    + (first.dtype || 'fp32') + ', batch ' + (first.batch || 1);

  // params (y) against MACs (x), both logarithmic
  const points = reports.filter((r) => T(r).params > 0 && T(r).macs > 0);
  const holder = document.getElementById('scatter');
  if (points.length) {
    const W = 900; const H = 520; const left = 80; const right = 30; const topM = 20; const bottom = 56;
    const xs = points.map((r) => T(r).macs); const ys = points.map((r) => T(r).params);
    const pad = (lo, hi) => [lo / 2, hi * 2];
    const [x0, x1] = pad(Math.min(...xs), Math.max(...xs));
    const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
    const X = (v) => left + (W - left - right) * (Math.log10(v) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0));
    const Y = (v) => topM + (H - topM - bottom) * (1 - (Math.log10(v) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0)));
    const chart = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'parameters against MACs'});
    for (const t of logTicks(x0, x1)) {
      if (t < x0 || t > x1) continue;
      chart.appendChild(svg('line', {class: 'gridline', x1: X(t), x2: X(t), y1: topM, y2: H - bottom}));
      chart.appendChild(svg('text', {x: X(t), y: H - bottom + 16, 'text-anchor': 'middle', text: si(t, 0)}));
    }
    for (const t of logTicks(y0, y1)) {
      if (t < y0 || t > y1) continue;
      chart.appendChild(svg('line', {class: 'gridline', x1: left, x2: W - right, y1: Y(t), y2: Y(t)}));
      chart.appendChild(svg('text', {x: left - 8, y: Y(t) + 4, 'text-anchor': 'end', text: si(t, 0)}));
    }
    chart.appendChild(svg('text', {x: (left + W - right) / 2, y: H - 12, 'text-anchor': 'middle', text: 'MACs per image (log)'}));
    chart.appendChild(svg('text', {x: 18, y: (topM + H - bottom) / 2, 'text-anchor': 'middle',
      transform: 'rotate(-90 18 ' + (topM + H - bottom) / 2 + ')', text: 'parameters (log)'}));
    const placed = [];   // label boxes already drawn: a label that would overlap one moves down a line
    const overlaps = (x, y, w) => placed.some((b) => x < b.x + b.w && b.x < x + w && Math.abs(b.y - y) < 14);
    points.forEach((r, i) => {
      const cx = X(T(r).macs); const cy = Y(T(r).params);
      chart.appendChild(svg('circle', {class: 'point', cx, cy, r: 6, fill: ['#4C72B0', '#DD8452', '#55A868', '#C44E52', '#8172B3', '#937860', '#DA8BC3', '#8C8C8C'][i % 8]},
        svg('title', {text: name(r) + ': ' + count(T(r).params) + ' params, ' + si(T(r).macs) + ' MACs'})));
      const w = 7.5 * name(r).length;
      let y = cy - 7;
      for (let k = 1; overlaps(cx + 9, y, w) && k < 12; k++) y = cy - 7 + 15 * k;
      placed.push({x: cx + 9, y, w});
      chart.appendChild(svg('text', {x: cx + 9, y, text: name(r), 'font-size': 13}));
    });
    holder.appendChild(el('div', {class: 'chart'}, chart));
  }
  conventions(document.getElementById('conventions'), first);
  document.body.setAttribute('data-ready', 'true');
})();
