import assert from "node:assert/strict";
import { greeting } from "./src/greeting.mjs";

assert.equal(greeting("cicd"), "hello, cicd");
console.log("tests passed");
