// SPDX-License-Identifier: GPL-3.0-or-later
//
// Small figures helpers shared by the benchmark's measurements and report.

// Nearest rank: the value below which q of the samples lie (null if none).
export function quantile(xs, q) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
export const median = (xs) => quantile(xs, 0.5);
export const r1 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 10) / 10);

// {n, median, p95} of the finite samples.
export function summary(xs) {
  const ok = xs.filter(Number.isFinite);
  return { n: ok.length, median: median(ok), p95: quantile(ok, 0.95) };
}
