import { describe, expect, it } from "vitest";
import { columnsOf, formatLatency, outputCell, sampleJson, sampleTable } from "./signature";
import type { Signature } from "./types";

const SKLEARN: Signature = {
  inputs: [{ name: "X", dtype: "float64", shape: [null, 2] }],
  outputs: [{ name: "predictions", dtype: "string", shape: [null] }, { name: "probabilities", dtype: "float64", shape: [null, 2] }],
  features: ["sepal_length", "petal_width"],
  classes: ["setosa", "virginica"],
};
const ONNX: Signature = {
  inputs: [{ name: "X", dtype: "float32", shape: [null, 3] }],
  outputs: [{ name: "logits", dtype: "float32", shape: [null, 3] }],
};

describe("a signature prefills the predict form", () => {
  it("with the model's own column names and a sample row", () => {
    expect(sampleTable(SKLEARN)).toEqual({ columns: ["sepal_length", "petal_width"], cells: [["0", "0"]] });
    expect(JSON.parse(sampleJson(SKLEARN))).toEqual([{ sepal_length: 0, petal_width: 0 }]);
  });

  it("with x0.. and one tensor row for an input without column names", () => {
    expect(columnsOf(ONNX)).toEqual(["x0", "x1", "x2"]);
    expect(JSON.parse(sampleJson(ONNX))).toEqual([[0, 0, 0]]);
  });

  it("names each input of a several-input model", () => {
    const two: Signature = {
      inputs: [{ name: "ids", dtype: "int64", shape: [null, 2] }, { name: "text", dtype: "string", shape: [null] }],
      outputs: [],
    };
    expect(JSON.parse(sampleJson(two))).toEqual({ ids: [[0, 0]], text: [""] });
    expect(columnsOf(two)).toBeNull();
  });

  it("leaves the form blank without a signature", () => {
    expect(sampleJson(null)).toBe("");
    expect(sampleTable(undefined).columns).toEqual(["x0", "x1"]);
  });
});

describe("outputs for display", () => {
  it("rounds numbers and labels class probabilities", () => {
    expect(outputCell(0.9099999999999999)).toBe("0.91");
    expect(outputCell([0.12345678, 0.87654321], SKLEARN.classes)).toBe("setosa: 0.123, virginica: 0.877");
    expect(outputCell([0.12345678, 2.5])).toBe("[0.1235, 2.5]");
    expect(outputCell("setosa")).toBe("setosa");
  });

  it("shows the latency in ms or s", () => {
    expect(formatLatency(12.34)).toBe("12.3 ms");
    expect(formatLatency(1534)).toBe("1.53 s");
  });
});
