import { errors } from "../shared/errors.js";
import { BUILD_KEY } from "../shared/safe-path.js";

export { newBuildKey } from "../shared/build-key.js";

export function assertBuildKey(key: string): string {
  if (!BUILD_KEY.test(key)) throw errors.invalidArgument("--key", "a build key of 6-64 letters, digits, - or _", key);
  return key;
}
