import { describe, expect, it } from "vitest";
import { NATIVE, OPENAI } from "../testing/sample";
import {
  chatCode,
  chatCurl,
  chatOpenAI,
  modelCode,
  predictBody,
  predictCode,
  predictCurl,
  py,
  registerCode,
  switchCode,
  type CodeContext,
} from "./code";

const ctx: CodeContext = { connection: { profile: "default", capabilities: [...NATIVE] }, workspace: "team-a" };
const KEYLIKE = [/api_key/i, /sk-[A-Za-z0-9]{8,}/, /\btoken\b/i, /https?:\/\//, /secret/i, /password/i];

function keyless(code: string) {
  for (const pattern of KEYLIKE) expect(code).not.toMatch(pattern);
}

describe("py", () => {
  it("writes Python literals", () => {
    expect(py({ a: [1, true, null, "x\"y"] })).toBe('{"a": [1, True, None, "x\\"y"]}');
    expect(py("line\nbreak")).toBe('"line\\nbreak"');
  });
});

describe("copy as code", () => {
  it("connects by profile and selects the workspace", () => {
    expect(switchCode(ctx, "team-b")).toBe('import modeldeck as md\n\ndeck = md.connect()\ndeck.use("team-b")');
    const named = switchCode({ ...ctx, connection: { profile: "team", capabilities: [...NATIVE] } }, "x");
    expect(named).toContain('deck = md.connect("team")');
  });

  it("an OpenAI-compatible server has no workspace to use", () => {
    expect(switchCode({ ...ctx, connection: { profile: "vllm", capabilities: [...OPENAI] } }, "default")).not.toContain("deck.use");
  });

  it("register with fields as keyword arguments", () => {
    const code = registerCode(ctx, {
      model: "iris",
      source: { path: "ckpt/iris.onnx" },
      fields: { version_name: "1.2.0", format_type: "ONNX", metrics: { acc: 0.97 }, labels: { team: "a" } },
    });
    expect(code).toContain('deck.use("team-a")');
    expect(code).toContain("deck.register(");
    expect(code).toContain('"iris"');
    expect(code).toContain('"ckpt/iris.onnx"');
    expect(code).toContain('version="1.2.0"');
    expect(code).toContain('format="ONNX"');
    expect(code).toContain('metrics={"acc": 0.97}');
    expect(code).toContain('labels={"team": "a"}');
    keyless(code);
  });

  it("register from a kernel variable writes it as a checkpoint first", () => {
    const code = registerCode(ctx, { model: "iris", source: { variable: "clf" }, fields: {} });
    expect(code).toContain('path, fmt, framework = save_for_register(clf, "checkpoints")');
    expect(code).toContain('deck.register("iris", path, format=fmt, framework=framework)');
    const chosen = registerCode(ctx, { model: "iris", source: { variable: "clf" }, fields: { format_type: "ONNX" } });
    expect(chosen).toContain('deck.register("iris", path, format="ONNX", framework=framework)');
  });

  it("predict, inline or as a task", () => {
    const inline = predictCode(ctx, { model: "iris", version: "1.0.0", inputs: [[5.1, 3.5]], as_task: false });
    expect(inline).toContain("inputs = [[5.1, 3.5]]");
    expect(inline).toContain('prediction = deck.predict("iris", inputs, version="1.0.0")');
    const task = predictCode(ctx, { model: "iris", inputs: [], as_task: true });
    expect(task).toContain('task = deck.predict("iris", inputs, wait=False)');
    expect(task).toContain("task.result()");
    keyless(inline + task);
  });

  it("a model, or one of its versions, fetched after connect and use", () => {
    expect(modelCode(ctx, { model: "iris" })).toBe(
      'import modeldeck as md\n\ndeck = md.connect()\ndeck.use("team-a")\n\nmodel = deck.model("iris")\nprint(model.model_name, model.task)\n',
    );
    const version = modelCode(ctx, { model: "iris", version: "1.0.0" });
    expect(version).toContain('version = deck.version("iris", "1.0.0")');
    keyless(version);
  });

  it("predict before any inputs leaves a placeholder to fill in", () => {
    const code = predictCode(ctx, { model: "iris", as_task: false });
    expect(code).toMatch(/^inputs = \[\]  # an array/m);
    expect(code).toContain('prediction = deck.predict("iris", inputs)');
  });

  it("chat streams, with the params and the transcript so far", () => {
    const code = chatCode(ctx, {
      model: "my-llm",
      prompt: "And then?",
      params: { max_tokens: 200, temperature: 0.7 },
      history: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }],
    });
    expect(code).toContain('{"role": "user", "content": "And then?"}');
    expect(code).toContain("stream=True");
    expect(code).toContain("max_tokens=200");
    expect(code).toContain("temperature=0.7");
    expect(code).toContain('print(chunk.text, end="")');
    keyless(code);
  });

  it("never carries the connection's URL or anything key-like", () => {
    const withUrl = { connection: { profile: "team", capabilities: [...NATIVE], url: "https://user:pw@host" }, workspace: "a" };
    keyless(registerCode(withUrl, { model: "m", source: { uri: "oss://b/k" }, fields: {} }));
  });
});

describe("copy as curl and the OpenAI SDK", () => {
  const secretFree = (code: string) => {
    expect(code).not.toMatch(/mdk-|sk-[A-Za-z0-9]{8,}/);
    expect(code).not.toMatch(/https?:\/\//);
  };

  it("predict as curl: the platform's route, the key from the environment, the workspace header", () => {
    const code = predictCurl(ctx, { model: "iris", version: "1.0.0", inputs: [{ a: 1, b: "it's" }], as_task: false });
    expect(code).toContain('curl -sS "$MODELDECK_URL/api/v1/models/iris/versions/1.0.0/predict"');
    expect(code).toContain('-H "Authorization: Bearer $MODELDECK_API_KEY"');
    expect(code).toContain("-H 'X-ModelDeck-Workspace: team-a'");
    expect(code).toContain(`-d '{"records":[{"a":1,"b":"it'\\''s"}]}'`);
    secretFree(code);
  });

  it("maps inputs onto the body the way deck.predict does", () => {
    expect(predictBody([[1, 2]])).toEqual({ inputs: [[1, 2]] });
    expect(predictBody({ X: [[1]] })).toEqual({ inputs: { X: [[1]] } });
    expect(predictBody({ columns: { a: [1] } })).toEqual({ columns: { a: [1] } });
    expect(predictBody([{ a: 1 }])).toEqual({ records: [{ a: 1 }] });
  });

  it("chat as curl and with the OpenAI SDK, the model named and the history kept", () => {
    const args = { model: "tiny-lm", prompt: "hi", params: { max_tokens: 16 }, history: [{ role: "assistant", content: "hello" }] };
    const curl = chatCurl(ctx, args);
    expect(curl).toContain('"$OPENAI_BASE_URL/chat/completions"');
    expect(curl).toContain('"model":"tiny-lm"');
    expect(curl).toContain('"max_tokens":16');
    secretFree(curl);
    const sdk = chatOpenAI(ctx, args);
    expect(sdk).toContain("from openai import OpenAI");
    expect(sdk).toContain('api_key=os.environ["MODELDECK_API_KEY"]');
    expect(sdk).toContain('default_headers={"X-ModelDeck-Workspace": "team-a"}');
    expect(sdk).toContain('{"role": "assistant", "content": "hello"}, {"role": "user", "content": "hi"}');
    expect(sdk).toContain("max_tokens=16");
    secretFree(sdk);
  });

  it("an OpenAI-compatible server gets no workspace header", () => {
    const openai = { ...ctx, connection: { profile: "vllm", capabilities: [...OPENAI] } };
    expect(chatOpenAI(openai, { model: "m", prompt: "x", params: {} })).not.toContain("X-ModelDeck-Workspace");
  });
});
