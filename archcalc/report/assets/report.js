/* archcalc report page: the foldable layer table, its links to the block diagram, the receptive-field
 * explorer, the charts and the published figures, all drawn from the embedded JSON report.
 *
 * The report is read by key, defensively: a field added to the rows later is simply ignored, a missing
 * one shows as '—'. Big networks (resnet1202: ~5,400 rows with its groups) stay responsive because the
 * tree is folded by default and, past VIRTUAL_ABOVE visible rows, only the rows in view are in the DOM. */
(function () {
  const {el, svg, count, si, bytes, shape, data, about, conventions} = ARCHCALC;

  const report = data('report', {});
  const extra = data('page-data', {});
  const rows = Array.isArray(report.rows) ? report.rows : [];
  const groups = Array.isArray(report.groups) ? report.groups : [];
  const totals = report.totals || {};
  const spec = report.spec || {};
  const input = Array.isArray(spec.input) ? spec.input : [];

  const VIRTUAL_ABOVE = 400;   // render every visible row up to this many, else only those in view
  const OVERSCAN = 40;         // rows rendered above and below the view
  const MAX_BARS = 90;         // the charts fold blocks until this many bars fit (as `archcalc plot`)
  const SUMMED = ['params', 'weights', 'biases', 'macs', 'ops', 'flops', 'bwd_macs', 'activations', 'memory_bytes'];

  // ---- the tree: groups (report.groups) over layers (report.rows) --------------------------------------

  const nodes = [];
  const leafByName = new Map();
  const groupByPath = new Map();
  const groupKind = new Map(groups.filter((g) => g && typeof g.path === 'string').map((g) => [g.path, String(g.kind || 'group')]));
  const root = {id: -1, name: '', children: [], depth: -1, group: true, open: true, parent: null, sums: {}};

  function parentPath(name) {
    const parts = name.split('.');
    for (let k = parts.length - 1; k > 0; k--) {
      const p = parts.slice(0, k).join('.');
      if (groupKind.has(p)) return p;
    }
    return null;
  }
  function makeNode(props, parent) {
    const node = Object.assign({id: nodes.length, children: [], parent, depth: parent.depth + 1, open: false,
      sums: {}, layers: 0, order: nodes.length}, props);
    nodes.push(node);
    parent.children.push(node);
    return node;
  }
  function groupNode(path) {
    let node = groupByPath.get(path);
    if (node) return node;
    const up = parentPath(path);
    const parent = up === null ? root : groupNode(up);
    const kind = groupKind.get(path) || 'group';
    node = makeNode({name: path, label: path.slice(parent === root ? 0 : parent.name.length + 1), group: true,
      kind, type: kind.replace(/^block:/, '')}, parent);
    groupByPath.set(path, node);
    return node;
  }
  rows.forEach((row, index) => {
    if (!row || typeof row.name !== 'string') return;
    const up = parentPath(row.name);
    const parent = up === null ? root : groupNode(up);
    const node = makeNode({name: row.name, label: row.name.slice(parent === root ? 0 : parent.name.length + 1),
      group: false, type: String(row.type || ''), row, index}, parent);
    for (const key of SUMMED) node.sums[key] = typeof row[key] === 'number' ? row[key] : 0;
    node.shape = row.shape;
    node.rf = row.rf || null;
    node.layers = 1;
    node.last = node;
    leafByName.set(row.name, node);
  });
  (function aggregate(node) {   // a group's figures are its layers' sums; its output is its last layer's
    if (!node.group) return;
    for (const key of SUMMED) node.sums[key] = 0;
    node.layers = 0;
    for (const child of node.children) {
      aggregate(child);
      for (const key of SUMMED) node.sums[key] += child.sums[key];
      node.layers += child.layers;
      if (!node.last || child.last.index > node.last.index) node.last = child.last;
    }
    if (node.last) { node.shape = node.last.shape; node.rf = node.last.rf; }
  })(root);
  root.layers = nodes.filter((n) => !n.group).length;

  function lookup(name) { return leafByName.get(name) || groupByPath.get(name) || null; }
  function ancestors(node) { const out = []; for (let p = node.parent; p && p !== root; p = p.parent) out.push(p); return out; }

  // ---- the table -----------------------------------------------------------------------------------------

  const rfArea = (rf) => (rf && Array.isArray(rf.size) ? rf.size[0] * rf.size[rf.size.length - 1] : -1);
  const shapeSize = (s) => (Array.isArray(s) ? s.reduce((a, b) => a * b, 1) : -1);
  function rfText(rf) {
    if (!rf || !Array.isArray(rf.size) || !Array.isArray(rf.jump)) return 'n/a';
    const [sh, sw] = [rf.size[0], rf.size[rf.size.length - 1]];
    const [jh, jw] = [rf.jump[0], rf.jump[rf.jump.length - 1]];
    return (sh === sw ? String(sh) : sh + '×' + sw) + (jh === jw ? ' /' + jh : ' /' + jh + '×' + jw)
      + (rf.aligned === false ? ' ⚠' : '');
  }
  const COLUMNS = [
    {key: 'name', label: 'Layer', text: true, value: (n) => n.name.toLowerCase()},
    {key: 'type', label: 'Type', text: true, value: (n) => n.type},
    {key: 'shape', label: 'Output', value: (n) => shapeSize(n.shape), show: (n) => shape(n.shape), num: true},
    {key: 'params', label: 'Params', num: true, show: (n) => count(n.sums.params)},
    {key: 'macs', label: 'MACs', num: true, show: (n) => (n.sums.macs ? si(n.sums.macs) : '0')},
    {key: 'activations', label: 'Activations', num: true, show: (n) => (n.sums.activations ? si(n.sums.activations) : '—')},
    {key: 'memory_bytes', label: 'Memory', num: true, show: (n) => (n.sums.memory_bytes ? bytes(n.sums.memory_bytes) : '—')},
    {key: 'rf', label: 'RF /jump', num: true, value: (n) => rfArea(n.rf), show: (n) => rfText(n.rf)},
  ];
  for (const c of COLUMNS) if (!c.value) c.value = (n) => n.sums[c.key];

  const scroller = document.getElementById('table-scroll');
  const head = document.getElementById('layers-head');
  const body = document.getElementById('layers-body');
  const foot = document.getElementById('layers-foot');
  const rowCount = document.getElementById('row-count');
  const detail = document.getElementById('detail');

  let sortKey = null;
  let sortDir = 0;            // 1 ascending, -1 descending, 0 spec order
  let visible = [];
  let selected = null;
  let rowH = 25;
  let measured = false;
  let rendered = [0, 0];

  function flatten() {
    visible = [];
    const col = COLUMNS.find((c) => c.key === sortKey);
    const order = (list) => {
      if (!col || !sortDir) return list;
      return list.slice().sort((a, b) => {
        const va = col.value(a); const vb = col.value(b);
        return (va < vb ? -1 : va > vb ? 1 : a.order - b.order) * (va === vb ? 1 : sortDir);
      });
    };
    (function walk(list) {
      for (const node of order(list)) {
        visible.push(node);
        if (node.group && node.open) walk(node.children);
      }
    })(root.children);
    rowCount.textContent = visible.length + ' of ' + nodes.length + ' rows shown';
  }

  function makeRow(node) {
    const cls = ['row', node.group ? 'group' : 'leaf'];
    if (node === selected) cls.push('sel');
    if (!node.sums.params && !node.sums.macs && !node.group) cls.push('zero');
    const tr = el('tr', {class: cls.join(' '), 'data-id': node.id, 'data-name': node.name, 'aria-level': node.depth + 1,
      'aria-expanded': node.group ? String(node.open) : null, 'aria-selected': String(node === selected)});
    const toggle = node.group
      ? el('button', {type: 'button', class: 'toggle', 'aria-label': (node.open ? 'fold ' : 'unfold ') + node.name,
        text: node.open ? '▾' : '▸'})
      : el('span', {class: 'toggle leaf'});
    const where = node.row && node.row.location ? '\n' + node.row.location : '';
    const first = el('td', {title: node.name + (node.group ? ' (' + node.kind + ')' : '') + where}, toggle, node.label,
      node.group ? el('span', {class: 'count', text: ' (' + node.layers + (node.layers === 1 ? ' layer)' : ' layers)')}) : null);
    first.style.paddingLeft = (4 + 16 * node.depth) + 'px';
    tr.appendChild(first);
    for (const c of COLUMNS.slice(1)) {
      tr.appendChild(el('td', {class: (c.num ? 'num ' : '') + c.key, text: c.show ? c.show(node) : node[c.key]}));
    }
    return tr;
  }

  function spacer(height) {
    const td = el('td', {colspan: COLUMNS.length});
    td.style.height = height + 'px';
    return el('tr', {class: 'spacer', 'aria-hidden': 'true'}, td);
  }

  function render(force) {
    const frag = document.createDocumentFragment();
    if (visible.length <= VIRTUAL_ABOVE) {
      for (const node of visible) frag.appendChild(makeRow(node));
      rendered = [0, visible.length];
    } else {
      const top = Math.floor(scroller.scrollTop / rowH);
      const bottom = Math.ceil((scroller.scrollTop + scroller.clientHeight) / rowH);
      if (!force && top >= rendered[0] && bottom <= rendered[1]) return;   // what is in view is drawn already
      const first = Math.max(0, top - OVERSCAN);
      const last = Math.min(visible.length, bottom + OVERSCAN);
      frag.appendChild(spacer(first * rowH));
      for (let i = first; i < last; i++) frag.appendChild(makeRow(visible[i]));
      frag.appendChild(spacer((visible.length - last) * rowH));
      rendered = [first, last];
    }
    body.replaceChildren(frag);
    if (!measured && body.querySelector('tr.row')) {   // once: the spacers need the rows' real height
      measured = true;
      const h = body.querySelector('tr.row').getBoundingClientRect().height;
      if (h > 0 && Math.abs(h - rowH) > 0.5) { rowH = h; if (visible.length > VIRTUAL_ABOVE) render(true); }
    }
  }

  let pending = false;
  scroller.addEventListener('scroll', () => {
    if (visible.length <= VIRTUAL_ABOVE || pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; render(false); });
  });

  function refresh() { flatten(); render(true); }

  function scrollToNode(node) {
    const i = visible.indexOf(node);
    if (i < 0) return;
    const headH = head.getBoundingClientRect().height || 28;
    const y = headH + i * rowH;
    if (y < scroller.scrollTop + headH || y + rowH > scroller.scrollTop + scroller.clientHeight - 30) {
      scroller.scrollTop = Math.max(0, y - scroller.clientHeight / 2);
      render(true);
    }
  }

  function setOpen(node, open) {
    if (!node.group || node.open === open) return;
    node.open = open;
    refresh();
  }

  function buildHead() {
    for (const c of COLUMNS) {
      const th = el('th', {class: c.num ? 'num' : null, scope: 'col', 'data-key': c.key, text: c.label,
        title: 'sort by ' + c.label.toLowerCase() + ' (click again to reverse, a third time for the spec order)'});
      th.addEventListener('click', () => {
        if (sortKey !== c.key) { sortKey = c.key; sortDir = c.text ? 1 : -1; } else if (sortDir === (c.text ? 1 : -1)) sortDir = -sortDir; else { sortKey = null; sortDir = 0; }
        for (const other of head.children) other.removeAttribute('aria-sort');
        if (sortDir) th.setAttribute('aria-sort', sortDir > 0 ? 'ascending' : 'descending');
        refresh();
      });
      head.appendChild(th);
    }
    const t = totals;
    const cells = [el('td', {text: 'Total: ' + count(root.layers) + ' layers incl. the input'}), el('td'), el('td'),
      el('td', {class: 'num', text: count(t.params)}), el('td', {class: 'num', text: si(t.macs)}),
      el('td', {class: 'num', text: si(t.activations)}),
      el('td', {class: 'num', text: bytes(t.activation_bytes)}),
      el('td', {class: 'num', text: t.rf && Array.isArray(t.rf.size) ? shape(t.rf.size) : ''})];
    foot.appendChild(el('tr', {}, ...cells));
  }

  function describe(node) {
    const s = node.sums;
    const parts = [];
    if (node.group) parts.push(node.name + ': ' + node.kind + ', ' + node.layers + ' layers, output ' + shape(node.shape));
    else parts.push(node.name + ': ' + node.type + ', output ' + shape(node.shape));
    const row = node.row || {};
    let params = 'params ' + count(s.params);
    if (s.params) params += ' (weights ' + count(s.weights) + ', biases ' + count(s.biases) + (row.trainable === false ? ', frozen' : '') + ')';
    parts.push(params);
    parts.push('MACs ' + count(s.macs) + ', other ops ' + count(s.ops) + ', backward MACs ' + count(s.bwd_macs));
    parts.push('allocates ' + count(s.activations) + ' values (' + bytes(s.memory_bytes) + ' at ' + (report.dtype || '?') + ')');
    if (node.rf && Array.isArray(node.rf.size)) {
      parts.push('receptive field ' + shape(node.rf.size) + ', jump ' + shape(node.rf.jump) + ', start ' + shape(node.rf.start)
        + (node.rf.aligned === false ? ' (merged paths misaligned)' : ''));
    }
    if (row.rf_note) parts.push(String(row.rf_note));
    if (row.location) parts.push('defined at ' + row.location);
    return parts.join(' · ');
  }

  function select(node, opts) {
    const from = (opts && opts.from) || 'table';
    let unfolded = false;
    for (const p of ancestors(node)) if (!p.open) { p.open = true; unfolded = true; }
    selected = node;
    if (unfolded) flatten();
    render(true);
    if (!opts || opts.scroll !== false) scrollToNode(node);
    detail.textContent = describe(node);
    highlightBoxes(node, from !== 'diagram');
    highlightBars(node);
    if (from !== 'rf') rfFollow(node);
  }

  body.addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr.row');
    if (!tr) return;
    const node = nodes[Number(tr.getAttribute('data-id'))];
    if (ev.target.closest('.toggle') && node.group) { setOpen(node, !node.open); return; }
    select(node, {scroll: false});
  });
  body.addEventListener('dblclick', (ev) => {
    const tr = ev.target.closest('tr.row');
    if (tr) { const node = nodes[Number(tr.getAttribute('data-id'))]; if (node.group) setOpen(node, !node.open); }
  });
  scroller.tabIndex = 0;
  scroller.addEventListener('keydown', (ev) => {
    if (!selected) return;
    const i = visible.indexOf(selected);
    if (ev.key === 'ArrowDown' && i + 1 < visible.length) select(visible[i + 1]);
    else if (ev.key === 'ArrowUp' && i > 0) select(visible[i - 1]);
    else if (ev.key === 'ArrowRight' && selected.group) setOpen(selected, true);
    else if (ev.key === 'ArrowLeft') { if (selected.group && selected.open) setOpen(selected, false); else if (selected.parent !== root) select(selected.parent); }
    else return;
    ev.preventDefault();
  });
  document.getElementById('expand-all').addEventListener('click', () => { for (const n of nodes) if (n.group) n.open = true; refresh(); });
  document.getElementById('collapse-all').addEventListener('click', () => { for (const n of nodes) if (n.group) n.open = false; refresh(); });
  const find = document.getElementById('find');
  find.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter') return;
    const q = find.value.trim().toLowerCase();
    if (!q) return;
    const start = selected ? selected.order + 1 : 0;
    for (let k = 0; k < nodes.length; k++) {
      const node = nodes[(start + k) % nodes.length];
      if (node.name.toLowerCase().includes(q)) { find.classList.remove('warn'); select(node); return; }
    }
    find.classList.add('warn');
  });

  // ---- the block diagram ---------------------------------------------------------------------------------

  const diagramPane = document.getElementById('diagram');
  const diagram = diagramPane.querySelector('svg');
  const boxes = new Map();
  if (extra.diagram_note) document.getElementById('diagram-note').textContent = 'no diagram: ' + extra.diagram_note;
  if (diagram) {
    for (const shapeEl of diagram.querySelectorAll('[data-layer]')) {
      for (const name of shapeEl.getAttribute('data-layer').split(' ')) {
        if (!boxes.has(name)) boxes.set(name, []);
        boxes.get(name).push(shapeEl);
      }
    }
    diagram.addEventListener('click', (ev) => {
      const target = ev.target.closest('[data-layer]');
      if (!target) return;
      for (const name of target.getAttribute('data-layer').split(' ')) {
        const node = lookup(name);
        if (node) { select(node, {from: 'diagram'}); return; }
      }
    });
    const baseW = Number(diagram.getAttribute('width')) || 600;
    const baseH = Number(diagram.getAttribute('height')) || 600;
    let zoom = 1;
    const setZoom = (z) => {
      zoom = Math.min(4, Math.max(0.1, z));
      diagram.setAttribute('width', String(baseW * zoom));
      diagram.setAttribute('height', String(baseH * zoom));
    };
    const fit = () => setZoom(Math.min(1, (diagramPane.clientWidth - 4) / baseW));
    const start = () => setZoom(Math.min(1, Math.max(0.6, (diagramPane.clientWidth - 4) / baseW)));  // legible, scroll for the rest
    document.getElementById('zoom-in').addEventListener('click', () => setZoom(zoom * 1.25));
    document.getElementById('zoom-out').addEventListener('click', () => setZoom(zoom / 1.25));
    document.getElementById('zoom-fit').addEventListener('click', fit);
    start();
  }

  function boxesFor(node) {   // its own box(es); a group's: those inside it; else the nearest enclosing group's
    for (const n of [node, ...ancestors(node)]) {
      let found = boxes.get(n.name) || [];
      if (n.group) {
        const prefix = n.name + '.';
        for (const [name, list] of boxes) if (name.startsWith(prefix)) found = found.concat(list);
      }
      if (found.length) return Array.from(new Set(found));
    }
    return [];
  }

  function highlightBoxes(node, scroll) {
    if (!diagram) return;
    for (const old of diagram.querySelectorAll('.hl')) old.classList.remove('hl');
    const found = boxesFor(node);
    for (const b of found) b.classList.add('hl');
    if (scroll && found.length) {
      const r = found[0].getBoundingClientRect();
      const p = diagramPane.getBoundingClientRect();
      if (r.top < p.top || r.bottom > p.bottom) diagramPane.scrollTop += r.top - p.top - p.height / 2 + r.height / 2;
      if (r.left < p.left || r.right > p.right) diagramPane.scrollLeft += r.left - p.left - p.width / 2 + r.width / 2;
    }
  }

  // ---- the receptive-field explorer ----------------------------------------------------------------------

  const rfLayer = document.getElementById('rf-layer');
  const rfY = document.getElementById('rf-y');
  const rfX = document.getElementById('rf-x');
  const rfOut = document.getElementById('rf-text');
  const canvas = document.getElementById('rf-canvas');
  const imageH = input.length >= 2 ? input[input.length - 2] : null;
  const imageW = input.length >= 1 ? input[input.length - 1] : null;
  let picture = null;
  let view = null;
  let rfNode = null;
  const rfLeaves = nodes.filter((n) => !n.group && n.rf && Array.isArray(n.rf.size) && Array.isArray(n.rf.start));

  function unitsOf(node) {
    const s = node.shape;
    return Array.isArray(s) && s.length === 3 ? [s[1], s[2]] : [1, 1];
  }

  /* archcalc rf --layer L --at Y,X, in the page: the same arithmetic and the same two lines */
  function rfRegion(node, y, x) {
    const rf = node.rf;
    const last = rf.size.length - 1;
    const r0 = rf.start[0] + y * rf.jump[0];
    const r1 = r0 + rf.size[0] - 1;
    const c0 = rf.start[last] + x * rf.jump[last];
    const c1 = c0 + rf.size[last] - 1;
    const cr0 = Math.max(r0, 0); const cr1 = Math.min(r1, imageH - 1);
    const cc0 = Math.max(c0, 0); const cc1 = Math.min(c1, imageW - 1);
    const full = (r1 - r0 + 1) * (c1 - c0 + 1);
    const inside = Math.max(cr1 - cr0 + 1, 0) * Math.max(cc1 - cc0 + 1, 0);
    return {r0, r1, c0, c1, cr0, cr1, cc0, cc1, full, padding: full - inside};
  }

  function rfDescribe(node, y, x, g) {
    const lines = [
      node.name + ' unit (' + y + ', ' + x + ') sees input rows ' + g.r0 + '..' + g.r1 + ', cols ' + g.c0 + '..' + g.c1
        + ' (' + (g.r1 - g.r0 + 1) + '×' + (g.c1 - g.c0 + 1) + ')',
      'clipped to the ' + imageH + '×' + imageW + ' image: rows ' + g.cr0 + '..' + g.cr1 + ', cols ' + g.cc0 + '..' + g.cc1
        + '; ' + (100 * g.padding / g.full).toFixed(1) + '% of the field (' + g.padding + ' of ' + g.full + ' positions) is padding',
    ];
    if (node.rf.aligned === false) lines.push('⚠ merged paths are misaligned: this is the union of their fields');
    if (node.row && node.row.rf_note) lines.push(String(node.row.rf_note));
    return lines.join('\n');
  }

  function clampUnit(v, n) { const k = Math.round(Number(v)); return Number.isFinite(k) ? Math.min(Math.max(k, 0), n - 1) : 0; }

  function rfUpdate() {
    if (!rfNode || imageH === null) return;
    const [ny, nx] = unitsOf(rfNode);
    const y = clampUnit(rfY.value, ny);
    const x = clampUnit(rfX.value, nx);
    if (String(y) !== rfY.value) rfY.value = String(y);
    if (String(x) !== rfX.value) rfX.value = String(x);
    rfY.max = String(ny - 1);
    rfX.max = String(nx - 1);
    const g = rfRegion(rfNode, y, x);
    rfOut.textContent = rfDescribe(rfNode, y, x, g);
    draw(g);
  }

  function rfSetLayer(node, centre) {
    rfNode = node;
    if (rfLayer.value !== node.name) rfLayer.value = node.name;
    const [ny, nx] = unitsOf(node);
    if (centre || Number(rfY.value) >= ny || Number(rfX.value) >= nx) {
      rfY.value = String(Math.floor((ny - 1) / 2));
      rfX.value = String(Math.floor((nx - 1) / 2));
    }
    rfUpdate();
  }

  function rfFollow(node) {   // the table's selection, where it has a field (a group: its output layer's)
    const target = node.group ? node.last : node;
    if (target && rfLeaves.includes(target) && target !== rfNode) rfSetLayer(target, false);
  }

  function draw(g) {
    const dpr = window.devicePixelRatio || 1;
    const size = 440;
    if (canvas.width !== size * dpr) { canvas.width = size * dpr; canvas.height = size * dpr; }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, size, size);
    const top = Math.min(0, g.r0); const bottom = Math.max(imageH, g.r1 + 1);
    const left = Math.min(0, g.c0); const right = Math.max(imageW, g.c1 + 1);
    const margin = 16;
    const scale = Math.min((size - 2 * margin) / (right - left), (size - 2 * margin) / (bottom - top));
    const ox = (size - (right - left) * scale) / 2 - left * scale;
    const oy = (size - (bottom - top) * scale) / 2 - top * scale;
    view = {scale, ox, oy};
    const X = (c) => ox + c * scale;
    const Y = (r) => oy + r * scale;
    ctx.fillStyle = '#f1f3f5';
    ctx.fillRect(0, 0, size, size);
    // the input: the user's picture, or a grid at the layer's jump
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(X(0), Y(0), imageW * scale, imageH * scale);
    if (picture) {
      ctx.drawImage(picture, X(0), Y(0), imageW * scale, imageH * scale);
    } else {
      const jump = rfNode.rf.jump[0];
      let step = jump >= 2 ? jump : 8;
      while (step * scale < 4) step *= 2;
      ctx.strokeStyle = '#dfe3e8';
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let k = step; k < imageW; k += step) { ctx.moveTo(X(k), Y(0)); ctx.lineTo(X(k), Y(imageH)); }
      for (let k = step; k < imageH; k += step) { ctx.moveTo(X(0), Y(k)); ctx.lineTo(X(imageW), Y(k)); }
      ctx.stroke();
    }
    ctx.strokeStyle = '#333';
    ctx.lineWidth = 1.5;
    ctx.strokeRect(X(0), Y(0), imageW * scale, imageH * scale);
    // the field: hatched where it lies in the padding, tinted where it sees the image
    const fx = X(g.c0); const fy = Y(g.r0);
    const fw = (g.c1 - g.c0 + 1) * scale; const fh = (g.r1 - g.r0 + 1) * scale;
    ctx.save();
    ctx.beginPath();
    ctx.rect(fx, fy, fw, fh);
    ctx.clip();
    ctx.beginPath();   // within the field, everything but the image
    ctx.rect(0, 0, size, size);
    ctx.rect(X(0), Y(0), imageW * scale, imageH * scale);
    ctx.clip('evenodd');
    ctx.strokeStyle = 'rgba(214, 39, 40, 0.55)';
    ctx.lineWidth = 2;
    ctx.beginPath();
    for (let d = -size; d < 2 * size; d += 7) { ctx.moveTo(d, 0); ctx.lineTo(d + size, size); }
    ctx.stroke();
    ctx.restore();
    if (g.cr1 >= g.cr0 && g.cc1 >= g.cc0) {
      ctx.fillStyle = 'rgba(47, 109, 179, 0.35)';
      ctx.fillRect(X(g.cc0), Y(g.cr0), (g.cc1 - g.cc0 + 1) * scale, (g.cr1 - g.cr0 + 1) * scale);
    }
    ctx.strokeStyle = '#2f6db3';
    ctx.lineWidth = 2;
    ctx.strokeRect(fx, fy, fw, fh);
    ctx.fillStyle = '#d62728';
    ctx.beginPath();
    ctx.arc(X((g.c0 + g.c1 + 1) / 2), Y((g.r0 + g.r1 + 1) / 2), 3.5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = '#444';
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText('input ' + imageH + '×' + imageW + (picture ? '' : ' (grid: every ' + (rfNode.rf.jump[0] >= 2 ? rfNode.rf.jump[0] + ' px = the layer\'s jump' : '8 px') + ')'), 6, size - 5);
  }

  canvas.addEventListener('click', (ev) => {   // the unit whose field is centred nearest the click
    if (!rfNode || !view) return;
    const box = canvas.getBoundingClientRect();
    const c = (ev.clientX - box.left - view.ox) / view.scale;
    const r = (ev.clientY - box.top - view.oy) / view.scale;
    const rf = rfNode.rf;
    const last = rf.size.length - 1;
    const [ny, nx] = unitsOf(rfNode);
    rfY.value = String(clampUnit((r - rf.start[0] - (rf.size[0] - 1) / 2) / rf.jump[0], ny));
    rfX.value = String(clampUnit((c - rf.start[last] - (rf.size[last] - 1) / 2) / rf.jump[last], nx));
    rfUpdate();
  });

  function setupRF() {
    const section = document.getElementById('rf-section');
    if (imageH === null || !rfLeaves.length) {
      section.appendChild(el('p', {class: 'muted', text: 'No receptive fields to explore in this network.'}));
      for (const n of section.querySelectorAll('.rf')) n.hidden = true;
      return;
    }
    const frag = document.createDocumentFragment();
    for (const n of rfLeaves) frag.appendChild(el('option', {value: n.name, text: n.name + ' — ' + shape(n.shape) + ', RF ' + rfText(n.rf)}));
    rfLayer.appendChild(frag);
    rfLayer.addEventListener('change', () => {
      const node = leafByName.get(rfLayer.value);
      if (!node) return;
      rfSetLayer(node, true);
      select(node, {from: 'rf'});
    });
    rfY.addEventListener('input', rfUpdate);
    rfX.addEventListener('input', rfUpdate);
    if (typeof extra.image === 'string' && extra.image.startsWith('data:image/')) {
      const img = new Image();
      img.onload = () => { picture = img; rfUpdate(); };
      img.src = extra.image;
    }
    const last = totals.rf && totals.rf.layer ? leafByName.get(totals.rf.layer) : null;
    rfSetLayer(last && rfLeaves.includes(last) ? last : rfLeaves[rfLeaves.length - 1], true);
  }

  // ---- charts ---------------------------------------------------------------------------------------------

  const FAMILY = {conv: '#4C72B0', fc: '#DD8452', pool: '#8C8C8C', norm: '#CCB974', input: '#55A868', join: '#937860',
    block: '#64B5CD', other: '#B07AA1'};
  function family(node) {   // as archcalc/plots/charts.py colours them; a row's own 'family' wins when present
    if (node.group) return 'block';
    if (node.row && typeof node.row.family === 'string' && FAMILY[node.row.family]) return node.row.family;
    const t = node.type;
    if (t === 'conv' || t === 'subsample') return 'conv';
    if (t === 'fc' || t === 'rbf') return 'fc';
    if (['maxpool', 'avgpool', 'gap', 'adaptive_avgpool'].includes(t)) return 'pool';
    if (t === 'bn' || t === 'lrn') return 'norm';
    if (t === 'add' || t === 'concat') return 'join';
    if (t === 'input') return 'input';
    return 'other';
  }

  function chartNodes() {
    const drawn = (n) => n.group || n.sums.params || n.sums.macs || n.sums.activations;
    const at = (d) => {
      const out = [];
      (function walk(list) { for (const n of list) { if (n.group && n.depth < d) walk(n.children); else out.push(n); } })(root.children);
      return out.filter(drawn);
    };
    let d = nodes.reduce((m, n) => Math.max(m, n.depth), 0) + 1;
    let list = at(d);
    while (list.length > MAX_BARS && d > 0) { d -= 1; list = at(d); }
    return {list, depth: d};
  }

  const bars = [];
  function barChart(title, list, value, show) {
    const W = 1000; const H = 230; const left = 64; const right = 10; const topM = 10;
    const labels = list.length <= 60;
    const bottom = labels ? 86 : 14;
    const plotH = H - topM - bottom;
    const max = Math.max(1, ...list.map(value));
    const bw = (W - left - right) / Math.max(list.length, 1);
    const chart = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title});
    for (const f of [0, 0.5, 1]) {
      const y = topM + plotH * (1 - f);
      chart.appendChild(svg('line', {class: 'gridline', x1: left, x2: W - right, y1: y, y2: y}));
      chart.appendChild(svg('text', {x: left - 6, y: y + 3, 'text-anchor': 'end', text: show(max * f)}));
    }
    list.forEach((n, i) => {
      const v = value(n);
      const h = plotH * v / max;
      const x = left + i * bw;
      const bar = svg('rect', {class: 'bar', x: x + bw * 0.1, y: topM + plotH - h, width: Math.max(bw * 0.8, 1), height: Math.max(h, v ? 1 : 0),
        fill: FAMILY[family(n)], 'data-id': n.id}, svg('title', {text: n.name + ': ' + show(v)}));
      bar.addEventListener('click', () => select(n, {from: 'chart'}));
      bars.push({bar, node: n});
      chart.appendChild(bar);
      if (labels) {
        const lx = x + bw / 2; const ly = topM + plotH + 8;
        chart.appendChild(svg('text', {x: lx, y: ly, 'text-anchor': 'end', transform: 'rotate(-55 ' + lx + ' ' + ly + ')', text: n.label.length > 18 ? n.label.slice(0, 17) + '…' : n.label}));
      }
    });
    chart.appendChild(svg('line', {class: 'axis', x1: left, x2: W - right, y1: topM + plotH, y2: topM + plotH}));
    return el('div', {class: 'chart'}, el('h3', {text: title}), chart);
  }

  function rfChart() {
    const path = Array.isArray(extra.rf_path) ? extra.rf_path : [];
    const points = [];
    let lastKey = null;
    for (const name of path) {
      const n = leafByName.get(name);
      if (!n || !n.rf || !Array.isArray(n.rf.size)) continue;
      const key = n.rf.size.join(',') + '/' + n.rf.jump.join(',');
      if (key === lastKey) continue;
      lastKey = key;
      points.push(n);
    }
    if (points.length < 2 || imageH === null) return null;
    const W = 1000; const H = 230; const left = 64; const right = 14; const topM = 12;
    const labels = points.length <= 40;
    const bottom = labels ? 86 : 20;
    const plotH = H - topM - bottom;
    const max = Math.max(imageH, ...points.map((n) => n.rf.size[0]));
    const step = (W - left - right) / Math.max(points.length - 1, 1);
    const X = (i) => left + i * step;
    const Y = (v) => topM + plotH * (1 - v / max);
    const chart = svg('svg', {viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'receptive field growth'});
    for (const f of [0, 0.5, 1]) {
      chart.appendChild(svg('line', {class: 'gridline', x1: left, x2: W - right, y1: Y(max * f), y2: Y(max * f)}));
      chart.appendChild(svg('text', {x: left - 6, y: Y(max * f) + 3, 'text-anchor': 'end', text: String(Math.round(max * f))}));
    }
    chart.appendChild(svg('line', {x1: left, x2: W - right, y1: Y(imageH), y2: Y(imageH), stroke: '#55A868', 'stroke-dasharray': '5 4'}));
    chart.appendChild(svg('text', {x: W - right, y: Y(imageH) - 4, 'text-anchor': 'end', text: 'input ' + imageH + ' rows'}));
    chart.appendChild(svg('polyline', {fill: 'none', stroke: '#4C72B0', 'stroke-width': 2,
      points: points.map((n, i) => X(i) + ',' + Y(n.rf.size[0])).join(' ')}));
    points.forEach((n, i) => {
      const dot = svg('circle', {class: 'bar', cx: X(i), cy: Y(n.rf.size[0]), r: points.length > 200 ? 1.5 : 3.5, fill: FAMILY[family(n)]},
        svg('title', {text: n.name + ': ' + shape(n.rf.size) + ', jump ' + shape(n.rf.jump)}));
      dot.addEventListener('click', () => select(n, {from: 'chart'}));
      bars.push({bar: dot, node: n});
      chart.appendChild(dot);
      if (labels) {
        const lx = X(i); const ly = topM + plotH + 8;
        chart.appendChild(svg('text', {x: lx, y: ly, 'text-anchor': 'end', transform: 'rotate(-55 ' + lx + ' ' + ly + ')', text: n.label}));
      }
    });
    return el('div', {class: 'chart'}, el('h3', {text: 'Receptive field along the main path (rows of the input one unit sees)'}), chart);
  }

  function setupCharts() {
    const {list, depth} = chartNodes();
    const holder = document.getElementById('charts');
    const folded = list.some((n) => n.group);
    document.getElementById('charts-note').textContent = (folded ? 'Blocks nested deeper than level ' + depth + ' are folded into one bar each. ' : '')
      + 'Layers that add nothing (in-place activations, views, inference dropout) are left out. Click a bar to find its row.';
    holder.appendChild(barChart('Parameters', list, (n) => n.sums.params, (v) => si(Math.round(v))));
    holder.appendChild(barChart('MACs per image', list, (n) => n.sums.macs, (v) => si(Math.round(v))));
    holder.appendChild(barChart('Activation memory per image (' + (report.dtype || '') + ')', list, (n) => n.sums.memory_bytes, (v) => bytes(v)));
    const rf = rfChart();
    if (rf) holder.appendChild(rf);
  }

  function highlightBars(node) {
    const chain = new Set([node, ...ancestors(node)]);
    for (const {bar, node: n} of bars) bar.classList.toggle('hl', chain.has(n));
  }

  // ---- totals, published figures, conventions ------------------------------------------------------------

  function setupTotals() {
    const t = totals;
    const tm = t.training_memory || {};
    const rf = t.rf || {};
    const cards = [
      ['Parameters', count(t.params), si(t.params) + '; trainable ' + count(t.trainable_params)],
      ['MACs / image', si(t.macs), count(t.macs) + ' multiply-accumulates'],
      ['FLOPs / image', si(t.flops), si(t.train_flops) + ' forward + backward'],
      ['Activations / image', bytes(t.activation_bytes), count(t.activations) + ' values at ' + (report.dtype || '?')],
      ['Peak inference memory', bytes(t.peak_activation_bytes), 'batch ' + (report.batch || 1) + (t.peak_at ? ', at ' + t.peak_at : '')],
      ['Training memory', bytes(tm.total), 'batch ' + (tm.batch || '?') + ', ' + (tm.optimizer || '?') + ': params + grads + optimizer + saved'],
      ['Depth', String(t.depth === undefined ? '—' : t.depth), 'weight layers on the longest path; ' + (t.layers === undefined ? '?' : t.layers) + ' layers in all'],
      ['Receptive field', Array.isArray(rf.size) ? shape(rf.size) : 'n/a', rf.layer ? 'at ' + rf.layer + ', jump ' + shape(rf.jump) : ''],
    ];
    if (t.max_batch !== undefined) cards.push(['Largest batch', count(t.max_batch), 'fits ' + bytes(t.memory_budget)]);
    const holder = document.getElementById('totals');
    for (const [k, v, s] of cards) holder.appendChild(el('div', {class: 'card'}, el('div', {class: 'k', text: k}), el('div', {class: 'v', text: v}), el('div', {class: 's', text: s})));
  }

  function verdictClass(v) {
    if (v === 'reproduced') return 'verdict-ok';
    if (v.startsWith('reproduced')) return 'verdict-near';
    if (v.startsWith('not reproduced')) return 'verdict-bad';
    return 'verdict-none';
  }

  function setupPublished() {
    const figures = Array.isArray(extra.figures) ? extra.figures : [];
    if (!figures.length) return;
    document.getElementById('published-section').hidden = false;
    const tally = new Map();
    for (const f of figures) tally.set(String(f.verdict || ''), (tally.get(String(f.verdict || '')) || 0) + 1);
    document.getElementById('published-summary').textContent = figures.length + ' figure' + (figures.length === 1 ? '' : 's') + ': '
      + Array.from(tally, ([v, k]) => k + ' ' + v).join(', ');
    document.getElementById('published-details').open = figures.length <= 12;
    const table = document.getElementById('published');
    table.appendChild(el('thead', {}, el('tr', {}, ...['Figure', 'As published', 'Source', 'archcalc', 'Verdict', ''].map((h) => el('th', {text: h})))));
    const tbody = el('tbody');
    for (const f of figures) {
      const what = String(f.what || f.label || '');
      const verdict = String(f.verdict || '');
      tbody.appendChild(el('tr', {},
        el('td', {text: what}), el('td', {class: 'num', text: String(f.as_published || '')}), el('td', {text: String(f.source || '')}),
        el('td', {class: 'num', text: String(f.computed_text || '')}), el('td', {class: verdictClass(verdict), text: verdict}),
        el('td', {class: 'muted', text: String(f.explanation || '')})));
    }
    table.appendChild(tbody);
  }

  function setupNotes() {
    conventions(document.getElementById('conventions'), report);
    const list = document.getElementById('warnings');
    for (const w of (Array.isArray(report.warnings) ? report.warnings : [])) list.appendChild(el('li', {text: String(w)}));
    for (const p of (Array.isArray(totals.partial) ? totals.partial : [])) list.appendChild(el('li', {text: 'partial: ' + p}));
  }

  // ---- start ----------------------------------------------------------------------------------------------

  const aboutLine = document.getElementById('about');
  aboutLine.textContent = about(report);
  aboutLine.title = 'click to show all of it';
  aboutLine.addEventListener('click', () => aboutLine.classList.toggle('open'));
  setupTotals();
  buildHead();
  refresh();
  setupCharts();
  setupRF();
  setupPublished();
  setupNotes();
  document.body.setAttribute('data-ready', 'true');
  document.body.setAttribute('data-load-ms', String(Math.round(performance.now())));
})();
