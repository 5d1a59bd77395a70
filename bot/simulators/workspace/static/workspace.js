// The local Slack workspace page. It renders GET /ui/state (long-polled) and reports what
// the person does to the /ui/* endpoints; the server turns those into the signed requests
// Slack would send the bot. No framework, no build step: plain DOM code.
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

const ui = {
  me: params.get("user") || localStorage.getItem("pimbot.user") || "U_ALINE",
  snap: null, // the last /ui/state
  place: {}, // user -> {channel, tab}: where each person is looking
  drafts: {}, // view id -> {block_id: {action_id: value}}: what is typed in a modal
  seen: {}, // user -> channel -> ts of the newest message they have seen
  modalKey: "", // what the open modal was last rendered from (to keep focus while typing)
  homeKey: "",
  shown: [], // the messages on screen
  pollId: 0,
};

// ---------- mrkdwn ----------

const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️", hourglass: "⌛",
  hourglass_flowing_sand: "⏳", lock: "🔒", unlock: "🔓", key: "🔑", alarm_clock: "⏰", bell: "🔔",
  stopwatch: "⏱️", timer_clock: "⏲️", no_entry: "⛔", no_entry_sign: "🚫", information_source: "ℹ️",
  red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡", large_blue_circle: "🔵",
  shield: "🛡️", ticket: "🎫", memo: "📝", clipboard: "📋", mag: "🔍", bust_in_silhouette: "👤",
  busts_in_silhouette: "👥", raised_hand: "✋", wave: "👋", tada: "🎉", rocket: "🚀", zap: "⚡",
  fire: "🔥", eyes: "👀", thumbsup: "👍", "+1": "👍", thumbsdown: "👎", "-1": "👎", calendar: "📆",
  date: "📅", spiral_calendar_pad: "🗓️", arrows_counterclockwise: "🔄", repeat: "🔁",
  heavy_plus_sign: "➕", heavy_minus_sign: "➖", gear: "⚙️", robot_face: "🤖", question: "❓",
  exclamation: "❗", stop_sign: "🛑", octagonal_sign: "🛑", hammer_and_wrench: "🛠️", crown: "👑",
  closed_lock_with_key: "🔐", lock_with_ink_pen: "🔏", arrow_right: "➡️", sparkles: "✨",
  page_facing_up: "📄", pushpin: "📌", clock1: "🕐", clock3: "🕒", hourglass_done: "⌛",
  small_blue_diamond: "🔹", small_orange_diamond: "🔸", white_circle: "⚪", black_circle: "⚫",
  point_right: "👉", speech_balloon: "💬", inbox_tray: "📥", outbox_tray: "📤", scroll: "📜",
  card_index_dividers: "🗂️", ledger: "📒", mailbox: "📫", bulb: "💡", link: "🔗", no_bell: "🔕",
  heavy_multiplication_x: "✖️", checkered_flag: "🏁",
  ballot_box_with_check: "☑️", negative_squared_cross_mark: "❎",
  arrow_forward: "▶️", leftwards_arrow_with_hook: "↩️", back: "🔙", new: "🆕", end: "🔚",
  timer: "⏲️", watch: "⌚", calendar_spiral: "🗓️", person_frowning: "🙍", judge: "🧑‍⚖️",
  incoming_envelope: "📨", envelope: "✉️", e_mail: "📧",
  skull: "💀", rotating_light: "🚨", bangbang: "‼️", grey_question: "❔",
};

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({
  "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
// Slack senders escape &, < and > themselves; undo that before escaping for HTML.
const unslack = (s) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
const emoji = (html) => html.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);

function inline(text) {
  // Code spans first so nothing inside them is formatted.
  return text.split(/(`[^`\n]+`)/).map((part, i) => {
    if (i % 2) return `<code>${esc(part.slice(1, -1))}</code>`;
    let html = emoji(esc(unslack(part)));
    html = html.replace(/(^|[\s(>])\*([^*\n]+)\*(?=$|[\s).,:;!?<])/g, "$1<b>$2</b>");
    html = html.replace(/(^|[\s(>])_([^_\n]+)_(?=$|[\s).,:;!?<])/g, "$1<i>$2</i>");
    html = html.replace(/(^|[\s(>])~([^~\n]+)~(?=$|[\s).,:;!?<])/g, "$1<s>$2</s>");
    return html;
  }).join("");
}

function token(inner) {
  const [target, label] = splitOnce(inner, "|");
  const people = ui.snap ? ui.snap.people : {};
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const who = people[id] ? people[id].name : label || id;
    return `<span class="mention${id === ui.me ? " me" : ""}">@${esc(who)}</span>`;
  }
  if (target.startsWith("#")) {
    const ch = ui.snap && ui.snap.channels.find((c) => c.id === target.slice(1));
    return `<span class="mention">#${esc(label || (ch ? ch.name : target.slice(1)))}</span>`;
  }
  if (target.startsWith("!date^")) return esc(slackDate(target, label));
  if (target.startsWith("!subteam^")) return `<span class="mention">${esc(label || "@group")}</span>`;
  if (target.startsWith("!")) return `<span class="mention">@${esc(target.slice(1))}</span>`;
  const href = /^(https?:|mailto:)/.test(target) ? target : "#";
  return `<a href="${esc(href)}" target="_blank" rel="noopener">${esc(label || target)}</a>`;
}

function splitOnce(s, sep) {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
}

// `<…>` tokens (mentions, links, dates) stand in as markers while the line is formatted,
// so formatting around a token applies to it: `*<@U1>*` is a bold mention, as in Slack.
const MARK = /\uE000(\d+)\uE001/g;
function formatLine(line) {
  const tokens = [];
  const marked = line.replace(MARK, "").replace(/<([^<>]+)>/g, (m, inner) => {
    tokens.push(token(inner));
    return `\uE000${tokens.length - 1}\uE001`;
  });
  return inline(marked).replace(MARK, (m, i) => tokens[Number(i)]);
}

function mrkdwn(raw) {
  const text = String(raw ?? "");
  const out = [];
  // ```blocks``` and > quotes are line-level; the rest is inline.
  text.split(/(```[\s\S]*?```)/).forEach((chunk, i) => {
    if (i % 2) { out.push(`<pre>${esc(unslack(chunk.slice(3, -3)))}</pre>`); return; }
    const lines = chunk.split("\n").map((line) => {
      const quoted = line.startsWith("&gt;") || line.startsWith(">");
      const body = quoted ? line.replace(/^(&gt;|>)\s?/, "") : line;
      return quoted ? `<blockquote>${formatLine(body)}</blockquote>` : formatLine(body);
    });
    out.push(lines.join("\n").replace(/<\/blockquote>\n<blockquote>/g, "<br>"));
  });
  return out.join("");
}

const textObj = (t) => !t ? "" : t.type === "mrkdwn" ? mrkdwn(t.text) : emoji(esc(t.text));
const plain = (t) => (t && t.text) || "";

// ---------- time ----------

function tzOf(user) {
  const p = ui.snap && ui.snap.people[user || ui.me];
  return (p && p.tz) || undefined;
}
function fmt(seconds, opts) {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: tzOf(), ...opts }).format(new Date(seconds * 1000));
  } catch (e) {
    return new Intl.DateTimeFormat("en-US", opts).format(new Date(seconds * 1000));
  }
}
const clockTime = (s) => fmt(s, { hour: "numeric", minute: "2-digit" });
const dayLabel = (s) => fmt(s, { weekday: "long", month: "long", day: "numeric" });

function slackDate(target, fallback) {
  const [, epoch, format] = target.split("^");
  const s = Number(epoch);
  if (!Number.isFinite(s)) return fallback;
  const parts = {
    "{date_num}": fmt(s, { year: "numeric", month: "2-digit", day: "2-digit" }),
    "{date}": fmt(s, { year: "numeric", month: "long", day: "numeric" }),
    "{date_short}": fmt(s, { month: "short", day: "numeric", year: "numeric" }),
    "{date_long}": fmt(s, { weekday: "long", month: "long", day: "numeric", year: "numeric" }),
    "{date_pretty}": fmt(s, { year: "numeric", month: "long", day: "numeric" }),
    "{date_short_pretty}": fmt(s, { month: "short", day: "numeric", year: "numeric" }),
    "{date_long_pretty}": fmt(s, { weekday: "long", month: "long", day: "numeric", year: "numeric" }),
    "{time}": clockTime(s),
    "{time_secs}": fmt(s, { hour: "numeric", minute: "2-digit", second: "2-digit" }),
    "{ago}": ago(s),
  };
  return (format || "{date_short} {time}").replace(/\{[a-z_]+\}/g, (k) => parts[k] ?? k);
}
function ago(s) {
  const d = Math.round((nowSeconds() - s) / 60);
  if (Math.abs(d) < 1) return "just now";
  const abs = Math.abs(d), unit = abs >= 60 ? `${Math.round(abs / 60)} hours` : `${abs} minutes`;
  return d > 0 ? `${unit} ago` : `in ${unit}`;
}
const nowSeconds = () => Date.now() / 1000 + ((ui.snap && ui.snap.clock.offset) || 0);

// ---------- people ----------

// Inline SVG rather than emoji: some systems (headless CI among them) have no emoji font.
const SHIELD = '<svg viewBox="0 0 24 24" width="62%" height="62%" aria-hidden="true"><path d="M12 2l8 3v6c0 5.2-3.4 9.4-8 11-4.6-1.6-8-5.8-8-11V5z" fill="#fff"/><path d="M10.6 15.2l-3-3 1.3-1.3 1.7 1.7 4.5-4.5 1.3 1.3z" fill="#4a154b"/></svg>';
const BUBBLE = '<svg viewBox="0 0 24 24" width="60%" height="60%" aria-hidden="true"><path d="M4 4h16v11H9l-5 4z" fill="#fff"/></svg>';
const EYE = '<svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true"><path d="M12 5C6.5 5 2.7 9.5 2 12c.7 2.5 4.5 7 10 7s9.3-4.5 10-7c-.7-2.5-4.5-7-10-7zm0 11a4 4 0 110-8 4 4 0 010 8z" fill="#616061"/></svg>';

const COLORS = ["#2eb67d", "#e8912d", "#1264a3", "#cd2553", "#1d9bd1", "#36c5f0", "#007a5a", "#9e3997"];
function avatar(user, small) {
  const p = (ui.snap && ui.snap.people[user]) || { name: user };
  if (p.is_bot) return `<div class="avatar bot${small ? " small" : ""}">${user === "USLACKBOT" ? BUBBLE : SHIELD}</div>`;
  const initials = p.name.split(/\s+/).map((w) => w[0]).slice(0, 2).join("").toUpperCase();
  const color = COLORS[Math.abs([...user].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7)) % COLORS.length];
  return `<div class="avatar${small ? " small" : ""}" style="background:${color}">${esc(initials)}</div>`;
}
const nameOf = (user) => (ui.snap && ui.snap.people[user] ? ui.snap.people[user].name : user);

// ---------- Block Kit ----------

// `ctx` says where an element lives: {channel, ts} for a message, {view} for a view.
function renderBlocks(blocks, ctx) {
  return `<div class="blocks">${(blocks || []).map((b) => renderBlock(b, ctx)).join("")}</div>`;
}

function renderBlock(b, ctx) {
  switch (b.type) {
    case "header": return `<div class="b-header">${textObj(b.text)}</div>`;
    case "divider": return `<hr class="b-divider">`;
    case "section": {
      const fields = b.fields ? `<div class="b-fields">${b.fields.map((f) => `<div>${textObj(f)}</div>`).join("")}</div>` : "";
      const acc = b.accessory ? `<div class="b-accessory">${renderElement(b.accessory, b, ctx)}</div>` : "";
      return `<div class="b-section"><div class="b-text">${textObj(b.text)}${fields}</div>${acc}</div>`;
    }
    case "context":
      return `<div class="b-context">${(b.elements || []).map((e) => e.type === "image"
        ? `<img src="${esc(e.image_url)}" alt="${esc(e.alt_text)}">` : `<span>${textObj(e)}</span>`).join("")}</div>`;
    case "actions":
      return `<div class="b-actions">${(b.elements || []).map((e) => renderElement(e, b, ctx)).join("")}</div>`;
    case "image":
      return `<div class="b-image">${b.title ? `<div>${textObj(b.title)}</div>` : ""}<img src="${esc(b.image_url)}" alt="${esc(b.alt_text)}"></div>`;
    case "input": return renderInput(b, ctx);
    case "rich_text": return `<div class="b-text">${(b.elements || []).map(richPart).join("")}</div>`;
    default: return `<div class="b-unknown">[${esc(b.type)} block]</div>`;
  }
}

// A rich-text block's parts as Slack lays them out: quotes and preformatted text apart.
function richPart(el) {
  const text = esc(richText(el));
  if (el.type === "rich_text_quote") return `<blockquote>${text}</blockquote>`;
  if (el.type === "rich_text_preformatted") return `<pre>${text}</pre>`;
  return `<div>${text}</div>`;
}

function richText(node) {
  if (!node || typeof node !== "object") return "";
  if (typeof node.text === "string") return node.text;
  return (node.elements || []).map(richText).join("");
}

function dataAttrs(el, block) {
  return `data-block="${esc(block.block_id)}" data-action="${esc(el.action_id)}"`;
}

function options(el, selected, placeholder) {
  const opt = (o) => `<option value="${esc(o.value)}"${o.value === selected ? " selected" : ""}>${esc(plain(o.text))}</option>`;
  const groups = el.option_groups
    ? el.option_groups.map((g) => `<optgroup label="${esc(plain(g.label))}">${(g.options || []).map(opt).join("")}</optgroup>`).join("")
    : (el.options || []).map(opt).join("");
  return `<option value=""${selected ? "" : " selected"} disabled>${esc(placeholder || "Select an item")}</option>${groups}`;
}

function renderElement(el, block, ctx) {
  if (el.type === "button") {
    const style = el.style === "primary" || el.style === "danger" ? ` ${el.style}` : "";
    return `<button type="button" class="btn${style}" data-kind="button" ${dataAttrs(el, block)}>${emoji(esc(plain(el.text)))}</button>`;
  }
  if (el.type === "static_select") {
    const initial = el.initial_option ? el.initial_option.value : "";
    return `<select class="select" data-kind="select" ${dataAttrs(el, block)}>${options(el, initial, plain(el.placeholder))}</select>`;
  }
  if (el.type === "image") return `<img src="${esc(el.image_url)}" alt="${esc(el.alt_text)}" width="64">`;
  return `<span class="b-unknown">[${esc(el.type)}]</span>`;
}

function draftOf(viewId, blockId, el) {
  const d = ui.drafts[viewId] && ui.drafts[viewId][blockId];
  if (d && el.action_id in d) return d[el.action_id];
  if (el.initial_option) return el.initial_option.value;
  return el.initial_value ?? "";
}

function renderInput(b, ctx) {
  const el = b.element || {};
  const view = ctx.view || {};
  const value = draftOf(view.id, b.block_id, el);
  const error = (view.errors || {})[b.block_id];
  const attrs = `data-input="1" ${dataAttrs(el, b)} data-required="${b.optional ? "" : "1"}" data-min="${Number(el.min_length) || 0}"`;
  const id = `in-${b.block_id}-${el.action_id}`;
  let control;
  if (el.type === "plain_text_input") {
    const ph = esc(plain(el.placeholder));
    const len = `${el.max_length ? ` maxlength="${el.max_length}"` : ""}`;
    control = el.multiline
      ? `<textarea id="${esc(id)}" ${attrs} placeholder="${ph}"${len}>${esc(value)}</textarea>`
      : `<input id="${esc(id)}" ${attrs} placeholder="${ph}"${len} value="${esc(value)}">`;
  } else if (el.type === "static_select") {
    control = `<select id="${esc(id)}" ${attrs}>${options(el, value, plain(el.placeholder))}</select>`;
  } else {
    control = `<span class="b-unknown">[${esc(el.type)} input]</span>`;
  }
  return `<div class="b-input${error ? " invalid" : ""}" data-block-id="${esc(b.block_id)}">
    <label for="${esc(id)}">${esc(plain(b.label))}${b.optional ? ' <span class="optional">(optional)</span>' : ""}</label>
    ${control}
    ${b.hint ? `<div class="hint">${textObj(b.hint)}</div>` : ""}
    <div class="error"${error ? "" : " hidden"}>${error ? `⚠️ ${esc(error)}` : ""}</div></div>`;
}

// ---------- server calls ----------

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({ ok: false, error: `HTTP ${res.status}` }));
  if (!answer.ok) toast(`Something went wrong: ${answer.error}`);
  await refresh();
  return answer;
}

async function toggleRateLimit() {
  const on = !ui.snap.rate_limit.on;
  const res = await fetch("/ui/rate_limit", on ? {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ every: 2, seconds: 60, retry_after: 1 }),
  } : { method: "DELETE" });
  if (res.ok) toast(on ? "For 60 s, every 2nd Web API call answers 429 (Retry-After: 1)" : "Rate limits off");
  await refresh();
}

async function fetchState(since) {
  const q = new URLSearchParams({ user: ui.me });
  if (since !== undefined) q.set("since", since);
  const res = await fetch(`/ui/state?${q}`);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

async function refresh() {
  const snap = await fetchState();
  if (snap.me === ui.me) render(snap);
}

async function pollLoop() {
  const id = ++ui.pollId;
  while (id === ui.pollId) {
    try {
      const snap = await fetchState(ui.snap ? ui.snap.version : undefined);
      // A restarted server counts its versions from 0 again: its state is newer anyway.
      const newer = !ui.snap || snap.boot !== ui.snap.boot || snap.version >= ui.snap.version;
      if (id === ui.pollId && snap.me === ui.me && newer) render(snap);
    } catch (e) {
      await new Promise((r) => setTimeout(r, 1000)); // the server restarted or went away
    }
  }
}

let toastTimer = 0;
function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}

// ---------- rendering ----------

function place() {
  const snap = ui.snap;
  if (!ui.place[ui.me]) {
    const dm = snap.channels.find((c) => c.is_im);
    ui.place[ui.me] = { channel: dm ? dm.id : snap.channels[0].id, tab: "messages" };
  }
  return ui.place[ui.me];
}

function render(snap) {
  if (ui.snap && ui.snap.boot !== snap.boot) {
    $("restart-banner").hidden = false; // explains what persisted across the restart
    ui.seen = {};
  }
  ui.snap = snap;
  renderTop();
  renderSidebar();
  renderPane();
  renderModal();
}

function renderTop() {
  const snap = ui.snap;
  const select = $("user-select");
  const people = Object.values(snap.people).filter((p) => !p.is_bot);
  const options = people.map((p) => `<option value="${esc(p.id)}">${esc(p.name)}${p.title ? ` — ${esc(p.title)}` : ""}</option>`).join("");
  if (select.dataset.key !== options) { select.innerHTML = options; select.dataset.key = options; }
  select.value = ui.me;
  $("me-avatar").outerHTML = avatar(ui.me, true).replace("<div ", '<div id="me-avatar" ');
  $("me-name").textContent = nameOf(ui.me);
  $("team-name").textContent = snap.team.name;
  $("fast-forward").hidden = !snap.fast_forward;
  const limit = snap.rate_limit;
  $("rate-limit").textContent = limit.on
    ? `Rate limits: on (${limit.refused} refused) — stop` : "Rate limits: off";
  $("rate-limit").classList.toggle("on", limit.on);
  $("clock").hidden = !snap.fast_forward; // without a sandbox clock to move, it is just the time
  renderClock();
}

function renderClock() {
  if (!ui.snap) return;
  const off = ui.snap.clock.offset;
  const h = Math.floor(off / 3600), m = Math.round((off % 3600) / 60);
  const shift = off ? ` <span title="fast-forwarded">(+${h ? `${h} h` : ""}${h && m ? " " : ""}${m ? `${m} min` : ""})</span>` : "";
  const now = nowSeconds();
  $("clock").innerHTML = `<span class="clock-label">Sandbox clock </span><b>${esc(fmt(now, { weekday: "short", month: "short", day: "numeric" }))}, ${esc(clockTime(now))}</b>${shift}`;
}

function unread(channel) {
  const seen = (ui.seen[ui.me] || {})[channel.id] || 0;
  return (ui.snap.messages[channel.id] || []).filter((m) => Number(m.ts) > seen && m.user !== ui.me).length;
}

function renderSidebar() {
  const here = place();
  const item = (c, icon, label) => {
    const n = c.id === here.channel ? 0 : unread(c);
    const cls = [c.id === here.channel ? "active" : "", n ? "unread" : ""].join(" ");
    return `<li class="${cls}" data-channel="${esc(c.id)}">${icon}<span>${label}</span>${n ? `<span class="badge">${n}</span>` : ""}</li>`;
  };
  $("channel-list").innerHTML = ui.snap.channels.filter((c) => !c.is_im)
    .map((c) => item(c, '<span class="hash">#</span>', esc(c.name))).join("");
  $("app-list").innerHTML = ui.snap.channels.filter((c) => c.is_im)
    .map((c) => item(c, avatar(ui.snap.bot, true), `${esc(nameOf(ui.snap.bot))} <span class="app-tag">APP</span>`)).join("");
}

function renderPane() {
  const here = place();
  const channel = ui.snap.channels.find((c) => c.id === here.channel) || ui.snap.channels[0];
  const home = channel.is_im && here.tab === "home";
  const header = channel.is_im
    ? `${avatar(ui.snap.bot, true)}<span class="title">${esc(nameOf(ui.snap.bot))}</span>
       <div class="tabs"><button type="button" class="tab${home ? " active" : ""}" data-tab="home">Home</button>
       <button type="button" class="tab${home ? "" : " active"}" data-tab="messages">Messages</button></div>`
    : `<span class="title"># ${esc(channel.name)}</span><span class="topic">${esc(channel.topic)}</span>`;
  if ($("pane-header").dataset.key !== header) { $("pane-header").innerHTML = header; $("pane-header").dataset.key = header; }
  $("messages").hidden = home;
  $("home").hidden = !home;
  $("composer").hidden = home;
  $("message-box").placeholder = channel.is_im ? `Message ${nameOf(ui.snap.bot)}` : `Message #${channel.name}`;
  if (home) renderHome(); else renderMessages(channel);
  const msgs = ui.snap.messages[channel.id] || [];
  (ui.seen[ui.me] = ui.seen[ui.me] || {})[channel.id] = msgs.length ? Number(msgs[msgs.length - 1].ts) : 0;
}

function renderMessages(channel) {
  const box = $("messages");
  const msgs = ui.snap.messages[channel.id] || [];
  const key = `${ui.me}|${channel.id}|${JSON.stringify(msgs)}`;
  if (box.dataset.key === key) return;
  const previous = ui.shown || [];
  const sameChannel = box.dataset.channel === `${ui.me}|${channel.id}`;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const known = new Map(previous.map((m) => [m.ts, JSON.stringify(m)]));
  const intro = channel.is_im
    ? `<div class="intro">${avatar(ui.snap.bot).replace('class="avatar', 'class="avatar big')}<h2>${esc(nameOf(ui.snap.bot))}</h2><p>Just-in-time Microsoft Entra roles. This is your conversation with ${esc(nameOf(ui.snap.bot))}; type <code>/pim help</code> to start.</p></div>`
    : `<div class="intro"><h2># ${esc(channel.name)}</h2><p>${esc(channel.topic)}</p></div>`;
  let html = intro, lastDay = "", last = null;
  for (const m of msgs) {
    const day = dayLabel(Number(m.ts));
    if (day !== lastDay) { html += `<div class="day"><span>${esc(day)}</span></div>`; lastDay = day; last = null; }
    const cont = last && last.user === m.user && last.kind === m.kind && !m.blocks.length && !last.blocks.length
      && Number(m.ts) - Number(last.ts) < 120;
    const fresh = sameChannel && known.get(m.ts) !== JSON.stringify(m);
    html += renderMessage(m, channel, cont, fresh);
    last = m;
  }
  if (!msgs.length) html += `<div class="empty">No messages yet.</div>`;
  box.innerHTML = html;
  box.dataset.key = key;
  ui.shown = msgs; // to flash what is new or changed on the next render
  box.dataset.channel = `${ui.me}|${channel.id}`;
  if (!sameChannel || atBottom) box.scrollTop = box.scrollHeight;
}

function renderMessage(m, channel, cont, fresh) {
  const p = ui.snap.people[m.user] || {};
  const cls = ["msg", cont ? "cont" : "", m.ephemeral ? "ephemeral" : "", m.thread_ts ? "reply" : "", m.kind, fresh ? "flash" : ""].join(" ");
  const only = m.ephemeral ? `<div class="only-you">${EYE} Only visible to you</div>`
    : m.thread_ts ? `<div class="in-thread">↳ Replied in a thread</div>` : "";
  const body = m.blocks.length ? renderBlocks(m.blocks, { channel: channel.id, ts: m.ts })
    : `<div class="msg-text">${m.kind === "command" ? esc(m.text) : mrkdwn(m.text)}</div>`;
  const head = cont ? "" : `<div class="msg-head"><span class="name">${esc(p.name || m.user)}</span>${p.is_bot ? '<span class="app-tag">APP</span>' : ""}<span class="time" title="${esc(m.ts)}">${esc(clockTime(Number(m.ts)))}</span></div>`;
  return `<div class="${cls}" data-channel="${esc(channel.id)}" data-ts="${esc(m.ts)}">${avatar(m.user)}<div class="msg-body">${only}${head}${body}</div></div>`;
}

function renderHome() {
  const view = ui.snap.home;
  const key = `${ui.me}|${view ? view.hash : ""}`;
  if (ui.homeKey === key) return;
  ui.homeKey = key;
  $("home").innerHTML = `<div class="home-inner">${view ? renderBlocks(view.blocks, { view })
    : `<div class="empty">${esc(nameOf(ui.snap.bot))} has not published a Home tab yet.</div>`}</div>`;
}

function renderModal() {
  const view = ui.snap.modal;
  const key = view ? `${ui.me}|${view.id}|${view.hash}|${JSON.stringify(view.errors)}|${view.alert}` : "";
  if (key === ui.modalKey) return;
  ui.modalKey = key;
  const root = $("modal-root");
  if (!view) { root.innerHTML = ""; return; }
  root.innerHTML = `<div class="overlay"><div class="dialog" role="dialog" aria-modal="true" aria-label="${esc(plain(view.title))}" data-view="${esc(view.id)}">
    <div class="dialog-head">${avatar(ui.snap.bot, true)}<div class="title">${esc(plain(view.title))}</div>
      <button type="button" class="x" data-close="1" aria-label="Close">×</button></div>
    <div class="dialog-body">${view.alert ? `<div class="alert">${esc(view.alert)}</div>` : ""}${(view.blocks || []).map((b) => renderBlock(b, { view })).join("")}</div>
    <div class="dialog-foot"><button type="button" class="btn lg" data-close="1">${esc(plain(view.close) || "Cancel")}</button>
      ${view.submit ? `<button type="button" class="btn lg primary" data-submit="1">${esc(plain(view.submit))}</button>` : ""}</div>
  </div></div>`;
  const first = root.querySelector("[data-input]");
  if (first) first.focus();
}

// ---------- what people do ----------

function findElement(blocks, blockId, actionId) {
  const block = (blocks || []).find((b) => b.block_id === blockId);
  if (!block) return null;
  const els = [block.accessory, block.element, ...(block.elements || [])].filter(Boolean);
  return els.find((e) => e.action_id === actionId) || null;
}

// Where a clicked element lives, and its Block Kit definition.
function contextOf(node) {
  const blockId = node.dataset.block, actionId = node.dataset.action;
  const msg = node.closest(".msg");
  if (msg) {
    const m = (ui.snap.messages[msg.dataset.channel] || []).find((x) => x.ts === msg.dataset.ts);
    return { where: { channel: msg.dataset.channel, ts: msg.dataset.ts }, el: m && findElement(m.blocks, blockId, actionId), blockId, actionId };
  }
  const view = node.closest("[data-view]") ? ui.snap.modal : ui.snap.home;
  return { where: { view_id: view.id }, el: findElement(view.blocks, blockId, actionId), blockId, actionId };
}

function collectDraft() {
  const dialog = document.querySelector("#modal-root [data-view]");
  if (!dialog) return {};
  const draft = (ui.drafts[dialog.dataset.view] = ui.drafts[dialog.dataset.view] || {});
  dialog.querySelectorAll("[data-input]").forEach((input) => {
    (draft[input.dataset.block] = draft[input.dataset.block] || {})[input.dataset.action] = input.value || null;
  });
  return draft;
}

async function act(ctx, value, node) {
  const body = { user: ui.me, block_id: ctx.blockId, action_id: ctx.actionId, value, ...ctx.where };
  if (ctx.where.view_id && ui.snap.modal && ctx.where.view_id === ui.snap.modal.id) body.values = collectDraft();
  if (node) node.classList.add("busy");
  try { await post("/ui/action", body); } finally { if (node) node.classList.remove("busy"); }
}

function confirmThen(confirm, go) {
  const root = $("confirm-root");
  const style = confirm.style === "danger" ? "danger" : "primary";
  root.innerHTML = `<div class="overlay confirm"><div class="dialog" role="alertdialog" aria-modal="true">
    <div class="dialog-head"><div class="title">${esc(plain(confirm.title) || "Are you sure?")}</div></div>
    <div class="dialog-body"><div>${textObj(confirm.text)}</div></div>
    <div class="dialog-foot"><button type="button" class="btn lg" data-deny="1">${esc(plain(confirm.deny) || "Cancel")}</button>
      <button type="button" class="btn lg ${style}" data-confirm="1">${esc(plain(confirm.confirm) || "Yes")}</button></div></div></div>`;
  root.querySelector("[data-deny]").onclick = () => { root.innerHTML = ""; };
  root.querySelector("[data-confirm]").onclick = () => { root.innerHTML = ""; go(); };
  root.querySelector("[data-confirm]").focus();
}

async function submitModal(button) {
  const view = ui.snap.modal;
  const draft = collectDraft();
  let missing = false;
  document.querySelectorAll("#modal-root [data-input]").forEach((input) => {
    const wrap = input.closest(".b-input"), err = wrap.querySelector(".error");
    const value = input.value.trim(), min = Number(input.dataset.min);
    const problem = input.dataset.required && !value ? "Please complete this required field."
      : value && value.length < min ? `Please enter at least ${min} characters.` : "";
    wrap.classList.toggle("invalid", Boolean(problem));
    if (problem) { err.hidden = false; err.textContent = `⚠️ ${problem}`; missing = true; }
  });
  if (missing) return; // Slack checks these itself and never bothers the app
  button.classList.add("busy");
  try { await post("/ui/submit", { user: ui.me, view_id: view.id, values: draft }); } finally { button.classList.remove("busy"); }
}

function openChannel(channelId, tab) {
  const here = place();
  here.channel = channelId;
  const channel = ui.snap.channels.find((c) => c.id === channelId);
  if (channel.is_im) {
    here.tab = tab || here.tab || "messages";
    post("/ui/home", { user: ui.me, tab: here.tab }); // Slack sends app_home_opened for both tabs
  }
  renderSidebar();
  renderPane();
  if (!channel.is_im || here.tab === "messages") $("message-box").focus();
}

function switchUser(user) {
  ui.me = user;
  localStorage.setItem("pimbot.user", user);
  const url = new URL(location.href);
  url.searchParams.set("user", user);
  history.replaceState(null, "", url);
  ui.snap = null; ui.modalKey = ""; ui.homeKey = "";
  $("messages").dataset.key = "";
  refresh().then(pollLoop);
}

async function sendComposer() {
  const box = $("message-box");
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  autosize();
  $("command-hint").hidden = true;
  await post("/ui/send", { user: ui.me, channel: place().channel, text });
}

function autosize() {
  const box = $("message-box");
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, 160)}px`;
}

function commandHint() {
  const text = $("message-box").value;
  const hint = $("command-hint");
  const show = text.startsWith("/") && !text.includes(" ");
  hint.hidden = !show;
  if (show) {
    hint.innerHTML = `<div class="hint-row sel" data-fill="/pim "><span class="cmd">/pim</span><span class="desc">[activate | list | status | deactivate | extend | help] — ${esc(nameOf(ui.snap.bot))}</span></div>`;
  }
}

document.addEventListener("click", (ev) => {
  const t = ev.target.closest("button, li[data-channel], [data-fill]");
  if (!t || !ui.snap) return;
  if (t.matches("li[data-channel]")) return openChannel(t.dataset.channel);
  if (t.dataset.tab) return openChannel(place().channel, t.dataset.tab);
  if (t.dataset.fill) { $("message-box").value = t.dataset.fill; $("message-box").focus(); return commandHint(); }
  if (t.dataset.seconds && !t.classList.contains("busy")) {
    t.classList.add("busy"); // the hook may take a while: reminders fall due and are sent
    return post("/ui/fast_forward", { seconds: Number(t.dataset.seconds) })
      .then((a) => a.ok && toast(`Fast-forwarded ${t.textContent}`))
      .finally(() => t.classList.remove("busy"));
  }
  if (t.dataset.dismiss) { $(t.dataset.dismiss).hidden = true; return; }
  if (t.id === "rate-limit") return toggleRateLimit();
  if (t.dataset.close && ui.snap.modal) return post("/ui/close", { user: ui.me, view_id: ui.snap.modal.id });
  if (t.dataset.submit) return submitModal(t);
  if (t.dataset.kind === "button" && !t.classList.contains("busy")) {
    const ctx = contextOf(t);
    if (!ctx.el) return;
    const go = () => {
      // A link button opens its URL and still tells the app, as in Slack.
      if (/^https?:/.test(ctx.el.url || "")) window.open(ctx.el.url, "_blank", "noopener");
      return act(ctx, ctx.el.value ?? null, t);
    };
    return ctx.el.confirm ? confirmThen(ctx.el.confirm, go) : go();
  }
});

document.addEventListener("change", (ev) => {
  const t = ev.target;
  if (t.id === "user-select") return switchUser(t.value);
  if (t.dataset.kind === "select") {
    const ctx = contextOf(t);
    if (!ctx.el) return;
    const go = () => act(ctx, t.value, t);
    return ctx.el.confirm ? confirmThen(ctx.el.confirm, go) : go();
  }
  if (t.dataset.input) collectDraft();
});

document.addEventListener("input", (ev) => { if (ev.target.dataset && ev.target.dataset.input) collectDraft(); });

document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape") return;
  if ($("confirm-root").innerHTML) { $("confirm-root").innerHTML = ""; return; }
  if (ui.snap && ui.snap.modal) post("/ui/close", { user: ui.me, view_id: ui.snap.modal.id });
});

$("message-box").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendComposer(); }
});
$("message-box").addEventListener("input", () => { autosize(); commandHint(); });
$("composer").addEventListener("submit", (ev) => { ev.preventDefault(); sendComposer(); });
setInterval(renderClock, 15000);
refresh().then(pollLoop, () => pollLoop());
