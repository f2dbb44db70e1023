import { describe, expect, it } from "vitest";
import { checkRegister, EMPTY_FORM } from "./register-form";
import {
  checkLabels,
  checkMetrics,
  checkModelName,
  checkParam,
  checkUri,
  checkVersionName,
  checkWorkspaceName,
  parseJson,
  tableRows,
} from "./validate";

describe("field checks", () => {
  it("version names: major.minor.patch with an optional _suffix, or empty", () => {
    for (const ok of ["", "1.2.0", "0.0.1", "10.20.30_beta", "1.2.0_rc_1"]) expect(checkVersionName(ok)).toBeNull();
    for (const bad of ["1.2", "v1.2.0", "1.2.0-beta", "1.2.0_", "1.2.0 ", "1..0"]) expect(checkVersionName(bad)).not.toBeNull();
  });

  it("model and workspace names", () => {
    expect(checkModelName("iris classifier")).toBeNull();
    expect(checkModelName("")).not.toBeNull();
    expect(checkModelName(" iris")).not.toBeNull();
    expect(checkModelName("a/b")).not.toBeNull();
    expect(checkWorkspaceName("team-c")).toBeNull();
    expect(checkWorkspaceName("1team")).not.toBeNull();
    expect(checkWorkspaceName("t")).not.toBeNull();
  });

  it("URIs", () => {
    expect(checkUri("oss://bucket/key")).toBeNull();
    expect(checkUri("https://host/model.onnx")).toBeNull();
    expect(checkUri("bucket/key")).not.toBeNull();
  });

  it("labels: blank rows ignored, keys checked, duplicates and more than 20 refused", () => {
    expect(checkLabels([{ key: "team", value: "a" }, { key: "", value: "" }])).toEqual({ ok: true, value: { team: "a" } });
    expect(checkLabels([{ key: "bad key", value: "x" }]).ok).toBe(false);
    expect(checkLabels([{ key: "a", value: "1" }, { key: "a", value: "2" }]).ok).toBe(false);
    const many = Array.from({ length: 21 }, (_, i) => ({ key: `k${i}`, value: "v" }));
    expect(checkLabels(many).ok).toBe(false);
  });

  it("metrics must be finite numbers with names", () => {
    expect(checkMetrics([{ key: "acc", value: " 0.97 " }, { key: "loss", value: "1e-3" }])).toEqual({
      ok: true,
      value: { acc: 0.97, loss: 0.001 },
    });
    for (const value of ["abc", "NaN", "Infinity", "0.9.1"]) expect(checkMetrics([{ key: "acc", value }]).ok).toBe(false);
    expect(checkMetrics([{ key: "", value: "1" }]).ok).toBe(false);
    expect(checkMetrics([{ key: "acc", value: "" }]).ok).toBe(false);
  });

  it("numeric params: empty is omitted, bounds and integers checked", () => {
    expect(checkParam("", 0, 2)).toEqual({ ok: true, value: undefined });
    expect(checkParam("0.7", 0, 2)).toEqual({ ok: true, value: 0.7 });
    expect(checkParam("3", 0, 2).ok).toBe(false);
    expect(checkParam("1.5", 1, 100, true).ok).toBe(false);
  });

  it("JSON inputs and table rows", () => {
    expect(parseJson("[[1, 2]]")).toEqual({ ok: true, value: [[1, 2]] });
    expect(parseJson("[1,").ok).toBe(false);
    expect(tableRows(["a", "b"], [["1", "x"], ["", ""], ["2.5", ""]])).toEqual({
      ok: true,
      value: [{ a: 1, b: "x" }, { a: 2.5, b: "" }],
    });
    expect(tableRows(["a", "a"], [["1", "2"]]).ok).toBe(false);
    expect(tableRows(["a"], [[""]]).ok).toBe(false);
  });
});

describe("checkRegister", () => {
  it("needs a source and a model before it builds args", () => {
    const check = checkRegister(EMPTY_FORM);
    expect(check.args).toBeNull();
    expect(check.errors).toEqual({});
    expect(check.missing).toEqual(["a path", "a model name"]);
  });

  it("builds the register action's arguments, leaving out empty fields", () => {
    const check = checkRegister({
      ...EMPTY_FORM,
      path: " ckpt/iris.onnx ",
      model: "iris",
      version_name: "1.2.0",
      format_type: "ONNX",
      labels: [{ key: "team", value: "a" }, { key: "", value: "" }],
      metrics: [{ key: "acc", value: "0.97" }],
    });
    expect(check.args).toEqual({
      model: "iris",
      source: { path: "ckpt/iris.onnx" },
      fields: { version_name: "1.2.0", format_type: "ONNX", labels: { team: "a" }, metrics: { acc: 0.97 } },
    });
  });

  it("reports each invalid field", () => {
    const check = checkRegister({
      ...EMPTY_FORM,
      sourceKind: "uri",
      uri: "not a uri",
      model: "a/b",
      version_name: "1.2",
      metrics: [{ key: "acc", value: "high" }],
    });
    expect(check.args).toBeNull();
    expect(Object.keys(check.errors).sort()).toEqual(["metrics", "model", "source", "version_name"]);
  });

  it("takes a kernel variable as the source", () => {
    const check = checkRegister({ ...EMPTY_FORM, sourceKind: "variable", variable: "clf", model: "iris" });
    expect(check.args).toEqual({ model: "iris", source: { variable: "clf" }, fields: {} });
  });
});
