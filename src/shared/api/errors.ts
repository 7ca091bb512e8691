import { z } from "zod";

/** Every error answer of the API: the message says what to do, `code` is the catalogue code. */
export const apiErrorSchema = z.strictObject({ error: z.string(), code: z.string() });
export type ApiError = z.infer<typeof apiErrorSchema>;
