// Numbers for people: metrics and outputs carry float noise (0.9099999999999999) that hides the value.

/** `digits` significant digits, without ever rounding away digits before the point. */
export function formatNumber(n: number, digits = 4): string {
  if (!Number.isFinite(n) || Number.isInteger(n)) return String(n);
  const magnitude = Math.abs(n);
  if (magnitude < 1e-4) return n.toExponential(digits - 1);
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(magnitude)));
  return String(Number(n.toFixed(Math.min(decimals, 20))));
}

/** An ISO timestamp as "YYYY-MM-DD HH:MM" (UTC as sent), or "" when missing. */
export function formatTime(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 16).replace("T", " ") : "";
}
