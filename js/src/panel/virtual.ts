// Windowing math for fixed-height rows: only the rows in view (plus overscan) are rendered.

export interface Viewport {
  scrollTop: number;
  height: number;
  rowHeight: number;
  count: number;
  overscan: number;
}

export interface Window {
  start: number; // first rendered row
  end: number; // one past the last rendered row
  offset: number; // pixels above the first rendered row
  total: number; // pixels of the whole list
}

export function visibleWindow({ scrollTop, height, rowHeight, count, overscan }: Viewport): Window {
  const total = count * rowHeight;
  const top = Math.min(Math.max(0, scrollTop), Math.max(0, total - height));
  const first = Math.floor(top / rowHeight);
  const last = Math.ceil((top + height) / rowHeight);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, last + overscan);
  return { start, end, offset: start * rowHeight, total };
}

/** The scrollTop that brings row `index` fully into view, moving as little as possible. */
export function revealRow(index: number, scrollTop: number, height: number, rowHeight: number): number {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + height) return Math.max(0, bottom - height);
  return scrollTop;
}

/** The row a key moves to, clamped to the list; null for keys the list does not handle. */
export function stepIndex(key: string, index: number, count: number, pageRows: number): number | null {
  if (count === 0) return null;
  const clamp = (i: number) => Math.min(count - 1, Math.max(0, i));
  switch (key) {
    case "ArrowDown":
      return clamp(index + 1);
    case "ArrowUp":
      return clamp(index - 1);
    case "PageDown":
      return clamp(index + pageRows);
    case "PageUp":
      return clamp(index - pageRows);
    case "Home":
      return 0;
    case "End":
      return count - 1;
    default:
      return null;
  }
}
