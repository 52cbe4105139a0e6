// SVG geometry for a sparkline: counts per bucket → a polyline's points.

export interface SparklineGeometry {
  points: string;
  /** Closed path under the line, for the filled area. */
  area: string;
  max: number;
}

export function sparkline(values: readonly number[], width: number, height: number, pad = 2): SparklineGeometry {
  const max = Math.max(0, ...values);
  if (values.length === 0) return { points: "", area: "", max: 0 };
  const step = values.length > 1 ? (width - 2 * pad) / (values.length - 1) : 0;
  const y = (v: number) => (max === 0 ? height - pad : height - pad - (v / max) * (height - 2 * pad));
  const coords = values.map((v, i) => `${round(pad + i * step)},${round(y(v))}`);
  const points = coords.join(" ");
  const first = round(pad);
  const last = round(pad + (values.length - 1) * step);
  const area = `M${first},${height - pad} L${coords.join(" L")} L${last},${height - pad} Z`;
  return { points, area, max };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
