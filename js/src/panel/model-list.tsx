// The models as a virtualized listbox: fixed-height rows, only the visible ones (plus overscan) in the
// DOM, so 10,000 models scroll smoothly. Arrow keys move the cursor, Enter selects.

import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import type { ModelInfo } from "./types";
import { humanLabel, origin } from "./format";
import { Badge, useUid } from "./ui";
import { revealRow, stepIndex, visibleWindow } from "./virtual";

export const ROW_HEIGHT = 52;
const OVERSCAN = 6;
const FALLBACK_HEIGHT = 360; // before layout, and in environments without one (tests)

function ModelRow({ model, index, count, id, selected, active, onPick }: {
  model: ModelInfo;
  index: number;
  count: number;
  id: string;
  selected: boolean;
  active: boolean;
  onPick: (index: number) => void;
}) {
  return (
    <div
      id={id}
      role="option"
      class={`md-model-row${selected ? " md-selected" : ""}${active ? " md-active" : ""}`}
      data-testid="md-model-row"
      data-id={model.id}
      data-source={model.source}
      aria-selected={selected}
      aria-setsize={count}
      aria-posinset={index + 1}
      onClick={() => onPick(index)}
    >
      <div class="md-model-line">
        <span class="md-model-name">{model.name}</span>
        {model.task && <Badge>{model.task}</Badge>}
        {model.latest_version && (
          <span class="md-model-latest">
            {model.latest_version}
            {model.latest_approval && <Badge kind={model.latest_approval}>{model.latest_approval}</Badge>}
          </span>
        )}
      </div>
      <div class="md-model-line md-muted">
        <span>{origin(model)}</span>
        {(model.actions ?? []).length > 0 && <span>· {model.actions.map(humanLabel).join(", ")}</span>}
      </div>
    </div>
  );
}

export function ModelList({ models, selectedId, onSelect }: {
  models: readonly ModelInfo[];
  selectedId: string | null;
  onSelect: (model: ModelInfo) => void;
}) {
  const ids = useUid();
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(FALLBACK_HEIGHT);
  const [active, setActive] = useState(-1);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => setHeight(el.clientHeight || FALLBACK_HEIGHT));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // A new filter result: keep the cursor inside the list.
  useEffect(() => setActive((i) => Math.min(i, models.length - 1)), [models]);

  const move = (index: number) => {
    setActive(index);
    const el = scroller.current;
    if (el) el.scrollTop = revealRow(index, el.scrollTop, height, ROW_HEIGHT);
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Enter" || e.key === " ") {
      if (active >= 0) onSelect(models[active]);
      e.preventDefault();
      return;
    }
    const next = stepIndex(e.key, active, models.length, Math.max(1, Math.floor(height / ROW_HEIGHT) - 1));
    if (next === null) return;
    e.preventDefault();
    move(next);
  };
  const pick = (index: number) => {
    setActive(index);
    onSelect(models[index]);
  };

  const win = visibleWindow({ scrollTop, height, rowHeight: ROW_HEIGHT, count: models.length, overscan: OVERSCAN });
  const optionId = (i: number) => `${ids}-${i}`;
  return (
    <div
      ref={scroller}
      class="md-model-list"
      role="listbox"
      tabIndex={0}
      aria-label="Models"
      aria-activedescendant={active >= 0 && active < models.length ? optionId(active) : undefined}
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      onKeyDown={onKeyDown}
    >
      <div role="presentation" class="md-virtual-space" style={{ height: `${win.total}px` }}>
        <div role="presentation" class="md-virtual-window" style={{ transform: `translateY(${win.offset}px)` }}>
          {models.slice(win.start, win.end).map((m, k) => {
            const i = win.start + k;
            return (
              <ModelRow
                key={m.id}
                model={m}
                index={i}
                count={models.length}
                id={optionId(i)}
                selected={m.id === selectedId}
                active={i === active}
                onPick={pick}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
}
