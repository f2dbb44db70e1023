import { describe, expect, it } from "vitest";
import { revealRow, stepIndex, visibleWindow } from "./virtual";

const base = { rowHeight: 50, height: 300, count: 10_000, overscan: 5 };

describe("visibleWindow", () => {
  it("renders the rows in view plus overscan at the top", () => {
    expect(visibleWindow({ ...base, scrollTop: 0 })).toEqual({ start: 0, end: 11, offset: 0, total: 500_000 });
  });

  it("renders overscan on both sides in the middle", () => {
    const w = visibleWindow({ ...base, scrollTop: 10_025 }); // row 200 half scrolled out
    expect(w.start).toBe(195);
    expect(w.end).toBe(212);
    expect(w.offset).toBe(195 * 50);
  });

  it("clamps at the end and past it (a shrinking list)", () => {
    const end = visibleWindow({ ...base, scrollTop: 500_000 - 300 });
    expect(end.end).toBe(10_000);
    expect(visibleWindow({ ...base, scrollTop: 9_999_999 })).toEqual(end);
  });

  it("keeps the DOM small whatever the list length", () => {
    const w = visibleWindow({ ...base, scrollTop: 123_456 });
    expect(w.end - w.start).toBeLessThanOrEqual(300 / 50 + 1 + 2 * 5);
  });

  it("handles empty and short lists", () => {
    expect(visibleWindow({ ...base, count: 0, scrollTop: 0 })).toEqual({ start: 0, end: 0, offset: 0, total: 0 });
    expect(visibleWindow({ ...base, count: 3, scrollTop: 40 })).toMatchObject({ start: 0, end: 3 });
  });
});

describe("revealRow", () => {
  it("scrolls up or down just enough, or not at all", () => {
    expect(revealRow(10, 0, 300, 50)).toBe(250); // row 10's bottom at 550
    expect(revealRow(2, 200, 300, 50)).toBe(100);
    expect(revealRow(5, 200, 300, 50)).toBe(200);
  });
});

describe("stepIndex", () => {
  it("moves and clamps", () => {
    expect(stepIndex("ArrowDown", -1, 10, 5)).toBe(0);
    expect(stepIndex("ArrowDown", 9, 10, 5)).toBe(9);
    expect(stepIndex("ArrowUp", 0, 10, 5)).toBe(0);
    expect(stepIndex("PageDown", 7, 10, 5)).toBe(9);
    expect(stepIndex("PageUp", 3, 10, 5)).toBe(0);
    expect(stepIndex("Home", 5, 10, 5)).toBe(0);
    expect(stepIndex("End", 5, 10, 5)).toBe(9);
    expect(stepIndex("a", 5, 10, 5)).toBeNull();
    expect(stepIndex("ArrowDown", -1, 0, 5)).toBeNull();
  });
});
