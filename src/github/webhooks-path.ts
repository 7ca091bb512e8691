/** Where GitHub delivers webhooks, on the server's own port (the contract). */
export const WEBHOOKS_PATH = "/api/github/webhooks";
