import { expect } from "vitest";
import { isCicdError } from "../../src/shared/errors.js";

/** The CONFIG_INVALID error `fn` throws (the test fails when it throws none, or another). */
export function configErrorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    expect(isCicdError(error, "CONFIG_INVALID")).toBe(true);
    return error as Error;
  }
  throw new Error("expected a CONFIG_INVALID error");
}
