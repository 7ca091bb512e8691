/** The dashboard's one stylesheet (served as /dashboard/app.css): system fonts, light and dark. */
export const styles = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #57606a; --line: #d0d7de; --accent: #0969da; --ok: #1a7f37; --bad: #cf222e; --run: #9a6700; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #8d96a0; --line: #30363d; --accent: #4493f8; --ok: #3fb950; --bad: #f85149; --run: #d29922; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: var(--bg); padding: 4px 8px; z-index: 2; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
header { display: flex; gap: 1.5rem; align-items: center; padding: .5rem 1rem; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; text-decoration: none; color: var(--fg); }
header nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
header nav a[aria-current] { font-weight: 700; text-decoration: none; color: var(--fg); }
.signout { margin-left: auto; color: var(--muted); }
main { padding: 1rem; max-width: 72rem; }
h1 { font-size: 1.5rem; margin: .5rem 0 1rem; } h2 { font-size: 1.15rem; margin: 1.25rem 0 .5rem; } h2 small { color: var(--muted); font-weight: 400; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; } caption { text-align: left; font-weight: 600; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
.status { display: inline-block; padding: 0 .5rem; border-radius: 1rem; border: 1px solid currentColor; font-size: .85em; font-weight: 600; }
.status-succeeded { color: var(--ok); } .status-failed, .status-error { color: var(--bad); } .status-running, .status-queued { color: var(--run); } .status-cancelled { color: var(--muted); }
.summary { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; } .summary dt { color: var(--muted); } .summary dd { margin: 0; }
.actions, .filters { display: flex; gap: .5rem; flex-wrap: wrap; align-items: end; margin: .75rem 0; }
form.action { display: inline; }
button { font: inherit; padding: .3rem .9rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); cursor: pointer; }
button:hover { border-color: var(--accent); }
a.button { display: inline-block; padding: .3rem .9rem; border: 1px solid var(--line); border-radius: 6px; text-decoration: none; }
input, select { font: inherit; padding: .25rem .4rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
.login { display: grid; gap: .5rem; max-width: 24rem; } .hint, .none { color: var(--muted); } .error { color: var(--bad); font-weight: 600; }
.log { font: 13px/1.45 ui-monospace, monospace; background: #0d1117; color: #e6edf3; padding: .5rem 0; max-height: 70vh; overflow: auto; border-radius: 6px; white-space: pre-wrap; word-break: break-all; }
.log .line { display: flex; } .log .line.target { background: #3b2e00; }
.log .line a { flex: 0 0 4.5em; text-align: right; padding-right: 1em; color: #6e7681; text-decoration: none; user-select: none; }
.fg-black { color: #6e7681; } .fg-red, .fg-bright-red { color: #ff7b72; } .fg-green, .fg-bright-green { color: #7ee787; } .fg-yellow, .fg-bright-yellow { color: #e3b341; }
.fg-blue, .fg-bright-blue { color: #79c0ff; } .fg-magenta, .fg-bright-magenta { color: #d2a8ff; } .fg-cyan, .fg-bright-cyan { color: #56d4dd; } .fg-white, .fg-bright-white { color: #fff; }
.bg-red { background: #8e1519; } .bg-green { background: #0f5323; } .bg-yellow { background: #693e00; } .bg-blue { background: #0c2d6b; } .bold { font-weight: 700; }
.pages { display: flex; gap: 1rem; margin: 1rem 0; } .start { list-style: none; padding: 0; } .start li { margin: .3rem 0; display: flex; gap: 1rem; align-items: center; }
`;
