/* archcalc report page: helpers shared by the report and the comparison page.
 * Every name shown comes from user data: it is only ever set as text (textContent, setAttribute), never
 * parsed as HTML. The numbers' formats follow archcalc/report/fmt.py. */
'use strict';

const ARCHCALC = (function () {
  const SVG_NS = 'http://www.w3.org/2000/svg';

  /* el('td', {class: 'num', title: 'x'}, 'text', child…): an element with attributes and children. */
  function build(doc, ns, tag, attrs, children) {
    const node = ns ? doc.createElementNS(ns, tag) : doc.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'text') node.textContent = String(value);
      else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === 'object' ? child : doc.createTextNode(String(child)));
    }
    return node;
  }
  const el = (tag, attrs, ...children) => build(document, null, tag, attrs, children);
  const svg = (tag, attrs, ...children) => build(document, SVG_NS, tag, attrs, children);

  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

  /* 138,357,544 */
  function count(v) {
    return num(v) === null ? '—' : Math.round(v).toLocaleString('en-US');
  }
  /* 15.47G, 3.21M (fmt.si) */
  function si(v, digits = 2) {
    if (num(v) === null) return '—';
    for (const [factor, suffix] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'K']]) {
      if (Math.abs(v) >= factor) return (v / factor).toFixed(digits) + suffix;
    }
    return String(v);
  }
  /* 60.95 MB, decimal units (fmt.human_bytes) */
  function bytes(v) {
    if (num(v) === null) return '—';
    for (const [factor, suffix] of [[1e12, 'TB'], [1e9, 'GB'], [1e6, 'MB'], [1e3, 'KB']]) {
      if (Math.abs(v) >= factor) return (v / factor).toFixed(2) + ' ' + suffix;
    }
    return Math.round(v) + ' B';
  }
  const shape = (dims) => (Array.isArray(dims) ? dims.join('×') : '—');

  /* the JSON in <script type="application/json" id=…>, or a fallback */
  function data(id, fallback) {
    const node = document.getElementById(id);
    if (!node) return fallback;
    try { return JSON.parse(node.textContent); } catch (err) { return fallback; }
  }

  /* "Simonyan & Zisserman 2015, Table 1" from a spec's source mapping, whatever its keys */
  function sourceText(source) {
    if (!source || typeof source !== 'object') return '';
    const parts = [];
    for (const key of ['paper', 'title', 'table', 'figure', 'section', 'url']) {
      if (source[key] !== undefined && source[key] !== null && source[key] !== '') parts.push(String(source[key]));
    }
    return parts.join(', ');
  }

  /* "3 weight layers…" style one-liner about a spec: input, dtype, batch, source */
  function about(report) {
    const spec = report.spec || {};
    const bits = [];
    if (spec.description) bits.push(String(spec.description));
    if (Array.isArray(spec.input)) bits.push('input ' + shape(spec.input));
    if (report.dtype) bits.push('activations in ' + report.dtype);
    if (report.batch) bits.push('batch ' + report.batch);
    const src = sourceText(spec.source);
    if (src) bits.push('after ' + src);
    if (spec.variables && typeof spec.variables === 'object' && Object.keys(spec.variables).length) {
      bits.push(Object.entries(spec.variables).map(([k, v]) => k + '=' + JSON.stringify(v)).join(', '));
    }
    return bits.join(' · ');
  }

  function conventions(node, report) {
    const conv = report.conventions || {};
    for (const [key, text] of Object.entries(conv)) {
      node.appendChild(el('dt', {text: key.replace(/_/g, ' ')}));
      node.appendChild(el('dd', {text: String(text)}));
    }
  }

  /* A log-scale axis' ticks: powers of ten in [lo, hi] */
  function logTicks(lo, hi) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(Math.pow(10, e));
    return out;
  }

  return {el, svg, count, si, bytes, shape, data, sourceText, about, conventions, logTicks, num};
})();
