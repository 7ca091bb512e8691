import { html, type Html } from "../html.js";
import { layout } from "./layout.js";

/** A page that only says something (a refusal, an action that failed), with a way back. */
export function messagePage(title: string, message: string, back = "/"): Html {
  return layout({ title }, html`<h1>${title}</h1><p role="alert">${message}</p><p><a href="${back}">Back</a></p>`);
}
