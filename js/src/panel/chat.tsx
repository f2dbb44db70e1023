// Chat with a language-model version: the transcript streams in through the `chat` trait.

import { useLayoutEffect, useRef, useState } from "preact/hooks";
import { chatCode, chatCurl, chatOpenAI, type ChatArgs } from "./code";
import { CopyCodeAs } from "./copy-as";
import { useAction, useCodeContext, useTrait } from "./model";
import { Field } from "./ui";
import { checkParam, type Checked } from "./validate";

type ParamName = keyof ChatArgs["params"];

const PARAMS: { name: ParamName; label: string; check: (text: string) => Checked<number | undefined> }[] = [
  { name: "max_tokens", label: "Max tokens", check: (t) => checkParam(t, 1, 32768, true) },
  { name: "temperature", label: "Temperature", check: (t) => checkParam(t, 0, 2) },
  { name: "top_p", label: "Top p", check: (t) => checkParam(t, 0, 1) },
  { name: "seed", label: "Seed", check: (t) => checkParam(t, 0, 2 ** 31 - 1, true) },
];

/** The params as numbers, or the first field's message. */
export function chatParams(texts: Partial<Record<ParamName, string>>): Checked<ChatArgs["params"]> {
  const params: ChatArgs["params"] = {};
  for (const p of PARAMS) {
    const checked = p.check(texts[p.name] ?? "");
    if (!checked.ok) return { ok: false, message: `${p.label}: ${checked.message}` };
    if (checked.value !== undefined) params[p.name] = checked.value;
  }
  return { ok: true, value: params };
}

function Transcript() {
  const chat = useTrait("chat");
  const box = useRef<HTMLDivElement>(null);
  const pinned = useRef(true); // follow new tokens unless the reader scrolled up
  useLayoutEffect(() => {
    const el = box.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [chat]);
  const onScroll = () => {
    const el = box.current!;
    pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };
  const last = chat.messages.length - 1;
  return (
    <div class="md-transcript" ref={box} onScroll={onScroll} role="log" aria-label="Transcript" aria-busy={chat.streaming}>
      {chat.messages.length === 0 && <p class="md-empty">Ask something to start.</p>}
      {chat.messages.map((m, i) => (
        <div
          key={i}
          class={`md-msg md-msg-${m.role === "user" ? "user" : "other"}`}
          data-testid="md-chat-message"
          data-role={m.role}
        >
          <div class="md-msg-role">{m.role}</div>
          <div class="md-msg-text">
            {m.content}
            {chat.streaming && i === last && m.role === "assistant" && <span class="md-cursor" aria-hidden="true" />}
          </div>
        </div>
      ))}
    </div>
  );
}

/** `name` is how code names the model (`model`, its id, is what actions send). */
export function ChatView({ model, name = model, version }: { model: string; name?: string; version: string | null }) {
  const chat = useTrait("chat");
  const codeContext = useCodeContext();
  const [send, sending] = useAction("chat");
  const [stop, stopping] = useAction("stop");
  const [clear] = useAction("clear_chat");
  const [prompt, setPrompt] = useState("");
  const [texts, setTexts] = useState<Partial<Record<ParamName, string>>>({});
  const params = chatParams(texts);
  const streaming = chat.streaming || sending;
  const canSend = prompt.trim() !== "" && params.ok && !streaming;
  const args = (): ChatArgs => ({ model, version, prompt, params: params.ok ? params.value : {} });

  const submit = () => {
    if (!canSend) return;
    send({ ...args(), version: version ?? undefined });
    setPrompt("");
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  };
  const other = chat.model && chat.model !== model;
  return (
    <div class="md-chat">
      {other && <p class="md-muted">This transcript is with another model; sending starts a new one.</p>}
      <Transcript />
      <form class="md-composer" onSubmit={(e) => (e.preventDefault(), submit())}>
        <Field label="Message" hint="Enter sends, Shift+Enter adds a line.">
          {({ id, describedBy }) => (
            <textarea
              id={id}
              class="md-input md-prompt"
              data-testid="md-chat-input"
              rows={3}
              aria-describedby={describedBy}
              value={prompt}
              onInput={(e) => setPrompt(e.currentTarget.value)}
              onKeyDown={onKeyDown}
            />
          )}
        </Field>
        <div class="md-actions">
          {streaming ? (
            <button
              type="button"
              class="md-button md-danger"
              data-testid="md-chat-stop"
              disabled={stopping}
              onClick={() => stop()}
            >
              Stop
            </button>
          ) : (
            <button type="submit" class="md-button md-primary" data-testid="md-chat-send" disabled={!canSend}>
              Send
            </button>
          )}
          <button
            type="button"
            class="md-button md-quiet"
            disabled={streaming || chat.messages.length === 0}
            onClick={() => clear()}
          >
            Clear
          </button>
          <CopyCodeAs snippets={{
            Python: () => chatCode(codeContext, { ...args(), model: name, history: chat.messages }),
            "OpenAI SDK": () => chatOpenAI(codeContext, { ...args(), model: name, history: chat.messages }),
            curl: () => chatCurl(codeContext, { ...args(), model: name, history: chat.messages }),
          }} />
        </div>
        <details class="md-params">
          <summary>Parameters</summary>
          <div class="md-grid">
            {PARAMS.map((p) => (
              <Field key={p.name} label={p.label}>
                {({ id }) => (
                  <input
                    id={id}
                    class="md-input"
                    inputMode="decimal"
                    placeholder="default"
                    value={texts[p.name] ?? ""}
                    onInput={(e) => setTexts((t) => ({ ...t, [p.name]: e.currentTarget.value }))}
                  />
                )}
              </Field>
            ))}
          </div>
          {!params.ok && <div class="md-field-error">{params.message}</div>}
        </details>
      </form>
    </div>
  );
}
