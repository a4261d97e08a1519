// The training curve as a small self-contained SVG: loss per logged step, one polyline per
// series (total loss, and the hard-label cross-entropy when distilling).
import type { LogEntry } from "./trainer.js";

export interface Series { name: string; color: string; points: Array<[number, number]> }

export function curveSvg(title: string, series: Series[], w = 640, h = 360): string {
  const pad = { l: 56, r: 16, t: 32, b: 40 };
  const all = series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]).filter(Number.isFinite);
  const x0 = Math.min(...xs, 0), x1 = Math.max(...xs, 1);
  const y0 = Math.max(0, Math.min(...ys)), y1 = Math.max(...ys, y0 + 1e-6);
  const X = (v: number) => pad.l + ((v - x0) / (x1 - x0)) * (w - pad.l - pad.r);
  const Y = (v: number) => h - pad.b - ((v - y0) / (y1 - y0)) * (h - pad.t - pad.b);
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`,
    `<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" stroke="black"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${h - pad.b}" stroke="black"/>`,
    `<text x="${w / 2}" y="${h - 8}" text-anchor="middle">step</text>`];
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4, xv = x0 + ((x1 - x0) * i) / 4;
    out.push(`<text x="${pad.l - 6}" y="${Y(yv) + 4}" text-anchor="end">${yv.toFixed(2)}</text>`);
    out.push(`<line x1="${pad.l}" y1="${Y(yv)}" x2="${w - pad.r}" y2="${Y(yv)}" stroke="#ddd"/>`);
    out.push(`<text x="${X(xv)}" y="${h - pad.b + 16}" text-anchor="middle">${Math.round(xv)}</text>`);
  }
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1])).map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(" ");
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts}"/>`);
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
