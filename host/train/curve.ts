// Small self-contained SVG charts: the training curve (loss per logged step, one polyline per
// series) and, for the model card, perplexity against file size (points joined per series,
// log-scaled x, reference lines for the teacher and the target).
import type { LogEntry } from "./log-entry.js";

export interface Series { name: string; color: string; points: Array<[number, number]>; labels?: string[] }
export interface ChartOptions { xLabel: string; logX?: boolean; markers?: boolean; hlines?: Array<{ y: number; label: string }>; w?: number; h?: number }

export function curveSvg(title: string, series: Series[], w = 640, h = 360): string {
  return chartSvg(title, series, { xLabel: "step", w, h });
}

export function chartSvg(title: string, series: Series[], o: ChartOptions): string {
  const w = o.w ?? 640, h = o.h ?? 360;
  const pad = { l: 56, r: 16, t: 32, b: 40 };
  const all = series.flatMap((s) => s.points);
  const fx = o.logX ? Math.log10 : (v: number) => v;
  const xs = all.map((p) => fx(p[0]));
  const ys = [...all.map((p) => p[1]), ...(o.hlines ?? []).map((l) => l.y)].filter(Number.isFinite);
  const x0 = o.logX ? Math.min(...xs) - 0.05 : Math.min(...xs, 0), x1 = o.logX ? Math.max(...xs) + 0.05 : Math.max(...xs, 1);
  const y0 = Math.max(0, Math.min(...ys)), y1 = Math.max(...ys, y0 + 1e-6);
  const X = (v: number) => pad.l + ((fx(v) - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (v: number) => h - pad.b - ((v - y0) / (y1 - y0)) * (h - pad.t - pad.b);
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`,
    `<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" stroke="black"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${h - pad.b}" stroke="black"/>`,
    `<text x="${w / 2}" y="${h - 8}" text-anchor="middle">${esc(o.xLabel)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4, xv = x0 + ((x1 - x0) * i) / 4;
    const xTick = o.logX ? 10 ** xv : xv;
    out.push(`<text x="${pad.l - 6}" y="${Y(yv) + 4}" text-anchor="end">${yv.toFixed(2)}</text>`);
    out.push(`<line x1="${pad.l}" y1="${Y(yv)}" x2="${w - pad.r}" y2="${Y(yv)}" stroke="#ddd"/>`);
    out.push(`<text x="${X(xTick)}" y="${h - pad.b + 16}" text-anchor="middle">${Math.round(xTick)}</text>`);
  }
  for (const l of o.hlines ?? []) {
    out.push(`<line x1="${pad.l}" y1="${Y(l.y)}" x2="${w - pad.r}" y2="${Y(l.y)}" stroke="#888" stroke-dasharray="4 3"/>`);
    out.push(`<text x="${pad.l + 4}" y="${Y(l.y) - 3}" fill="#555">${esc(l.label)}</text>`);
  }
  const placed: Array<[number, number]> = [];
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ")}"/>`);
    if (o.markers) {
      pts.forEach((p, j) => {
        out.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${s.color}"/>`);
        const label = s.labels?.[j];
        const right = X(p[0]) > 0.75 * w; // labels near the right edge go to the point's left
        const x = X(p[0]) + (right ? -5 : 5);
        let y = Y(p[1]) - 5;
        while (placed.some((q) => Math.abs(q[0] - x) < 40 && Math.abs(q[1] - y) < 11)) y += 12; // below a label already there
        placed.push([x, y]);
        if (label) out.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="${right ? "end" : "start"}" fill="${s.color}">${esc(label)}</text>`);
      });
    }
    out.push(`<text x="${w - pad.r - 4}" y="${pad.t + 14 * (i + 1)}" text-anchor="end" fill="${s.color}">${esc(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

export function historySeries(history: LogEntry[], label: string, distilled: boolean): Series[] {
  const s: Series[] = [{ name: `${label}: cross-entropy on teacher samples (nats/token)`, color: "#1f77b4", points: history.map((e) => [e.step, e.ce]) }];
  if (distilled) s.push({ name: `${label}: distillation loss`, color: "#d62728", points: history.map((e) => [e.step, e.loss]) });
  return s;
}
