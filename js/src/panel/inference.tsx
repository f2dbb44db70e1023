// Inference: pick a model and version (through `select`, so every view agrees), then chat or predict.

import { useState } from "preact/hooks";
import { ChatView } from "./chat";
import { useCan, useSelection, useTrait, useVersions } from "./model";
import { PredictView } from "./predict";
import type { ModelInfo, Version } from "./types";
import { Empty, Field } from "./ui";

const CHAT_TASKS = /chat|text-generation|text2text|conversational|llm|completion|instruct/i;

const CHAT_FORMAT = "SafeTensors"; // the one format the platform chats with

/** A language model by its task, or by the format of the chosen (else the latest) version. A model Model
 * Studio authorizes (DashScope's) is one: it has no versions, and predict there goes through an EAS service. */
export function looksLikeChat(model: ModelInfo, version?: Version): boolean {
  if (model.source === "authorized") return true;
  return CHAT_TASKS.test(model.task ?? "") || (version?.format_type ?? model.latest_format) === CHAT_FORMAT;
}

/** How calls and code name a model: by name, or by id where the name is not unique among the models here. */
export function callName(models: readonly ModelInfo[], model: ModelInfo): string {
  return models.filter((m) => m.name === model.name).length === 1 ? model.name : model.id;
}

/** The version a call without one gets: the newest that was not rejected (versions come newest first). */
export function servedByLatest(versions: readonly Version[]): Version | undefined {
  return versions.find((v) => v.approval_status !== "Rejected");
}

/** The "latest" choice, saying which version it picks. */
function latestLabel(versions: readonly Version[]): string {
  const served = servedByLatest(versions);
  if (versions.length === 0) return "latest";
  return served ? `latest (${served.version_name}, ${served.approval_status})` : "latest (none: every version rejected)";
}

type Mode = "auto" | "chat" | "predict";

function Pickers({ model }: { model: ModelInfo | undefined }) {
  const models = useTrait("models");
  const [selected, select] = useSelection();
  const versions = useVersions(model?.id);
  const can = useCan();
  return (
    <div class="md-grid">
      <Field label="Model">
        {({ id }) => (
          <select
            id={id}
            class="md-input"
            value={model?.id ?? ""}
            onChange={(e) => select({ model: e.currentTarget.value || null, version: null })}
          >
            <option value="">Choose…</option>
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      {can("versions") && (
        <Field label="Version">
          {({ id }) => (
            <select
              id={id}
              class="md-input"
              disabled={!model}
              value={selected.version ?? ""}
              onChange={(e) => select({ model: model!.id, version: e.currentTarget.value || null })}
            >
              <option value="">{model ? latestLabel(versions) : "latest"}</option>
              {versions.map((v) => (
                <option key={v.version_name} value={v.version_name}>
                  {v.version_name} ({v.approval_status})
                </option>
              ))}
            </select>
          )}
        </Field>
      )}
    </div>
  );
}

export function Inference() {
  const models = useTrait("models");
  const [selected] = useSelection();
  const can = useCan();
  const [mode, setMode] = useState<Mode>("auto");
  const model = selected.model ? models.find((m) => m.id === selected.model) : undefined;
  const versions = useVersions(model?.id);
  const version = versions.find((v) => v.version_name === selected.version) ?? servedByLatest(versions) ?? versions[0];
  const both = can("chat") && can("predict"); // else there is only one way to call a model here
  const chat = both
    ? mode === "chat" || (mode === "auto" && !!model && looksLikeChat(model, version))
    : can("chat");
  return (
    <div class="md-inference">
      <Pickers model={model} />
      {both && (
        <div class="md-segmented" role="group" aria-label="Call as">
          <span class="md-muted">Call as</span>
          {(["auto", "chat", "predict"] as const).map((m) => (
            <button key={m} type="button" class="md-button md-small" aria-pressed={mode === m} onClick={() => setMode(m)}>
              {m === "auto" ? `Auto (${chat ? "chat" : "predict"})` : m === "chat" ? "Chat" : "Predict"}
            </button>
          ))}
        </div>
      )}
      {!model ? (
        <Empty>Choose a model to call.</Empty>
      ) : chat ? (
        <ChatView model={model.id} name={callName(models, model)} version={selected.version} />
      ) : (
        <PredictView model={model.id} name={callName(models, model)} version={selected.version} />
      )}
    </div>
  );
}
