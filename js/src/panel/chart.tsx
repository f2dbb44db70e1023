// A small line chart of one metric across versions, oldest on the left. Plain SVG: no chart library.

import { formatNumber as fmt } from "./format";

export interface Point {
  label: string;
  value: number;
}

const W = 320;
const H = 120;
const PAD = { left: 44, right: 12, top: 10, bottom: 22 };


export function MetricChart({ metric, points }: { metric: string; points: readonly Point[] }) {
  if (points.length === 0) return null;
  const values = points.map((p) => p.value);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  // One point (or a flat series) still needs a scale: a tenth of the value either side (0.9: 0.81 to 0.99),
  // not ±1, which would put an accuracy of 0.9 on an axis from -0.1 to 1.9.
  if (lo === hi) [lo, hi] = [lo - (Math.abs(lo) / 10 || 1), hi + (Math.abs(hi) / 10 || 1)];
  const single = points.length === 1;
  const x = (i: number) =>
    PAD.left + (points.length === 1 ? (W - PAD.left - PAD.right) / 2 : (i * (W - PAD.left - PAD.right)) / (points.length - 1));
  const y = (v: number) => PAD.top + ((hi - v) * (H - PAD.top - PAD.bottom)) / (hi - lo);
  const path = points.map((p, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(" ");
  const summary = points.map((p) => `${p.label}: ${fmt(p.value)}`).join(", ");
  return (
    <svg class="md-chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${metric} across versions: ${summary}`}>
      <line class="md-chart-axis" x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} />
      <line class="md-chart-axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} />
      <text class="md-chart-tick" x={PAD.left - 4} y={y(hi) + 4} text-anchor="end">
        {fmt(hi)}
      </text>
      <text class="md-chart-tick" x={PAD.left - 4} y={y(lo) + 4} text-anchor="end">
        {fmt(lo)}
      </text>
      <path class="md-chart-line" d={path} />
      {points.map((p, i) => (
        <circle key={p.label} class="md-chart-dot" cx={x(i)} cy={y(p.value)} r={3.5}>
          <title>{`${p.label}: ${fmt(p.value)}`}</title>
        </circle>
      ))}
      {single && (
        <text class="md-chart-value" data-testid="md-chart-value" x={x(0) + 8} y={y(points[0].value) + 4}>
          {fmt(points[0].value)}
        </text>
      )}
      <text class="md-chart-tick" x={x(0)} y={H - 6} text-anchor={single ? "middle" : "start"}>
        {points[0].label}
      </text>
      {points.length > 1 && (
        <text class="md-chart-tick" x={x(points.length - 1)} y={H - 6} text-anchor="end">
          {points[points.length - 1].label}
        </text>
      )}
    </svg>
  );
}
