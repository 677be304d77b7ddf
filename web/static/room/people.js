// The room's lists of people: who is in the call (with consent answers while recording, and
// the chair's buttons) and who waits in the lobby. DOM only.

const $ = (id) => document.getElementById(id);

/** The title to show beside the name, unless the display name already starts with it. */
export function titleOf(peer) {
  const title = String(peer.title || "").trim();
  return title && !String(peer.name || "").startsWith(title) ? title : "";
}

function button(label, action, peerId, extra = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `button button-small ${extra}`.trim();
  b.dataset.action = action;
  b.dataset.peerId = peerId;
  b.textContent = label;
  return b;
}

/** One person's line: the name, then what else we know of them, joined by dots. */
function person(p, name, meta) {
  const li = document.createElement("li");
  li.className = "person";
  li.dataset.peerId = p.peer_id;
  const who = document.createElement("div");
  who.className = "person-who";
  const strong = document.createElement("strong");
  strong.textContent = name;
  const details = document.createElement("span");
  details.className = "person-meta";
  details.textContent = meta.filter(Boolean).join(" · ");
  who.append(strong, details);
  li.append(who);
  return li;
}

/**
 * The participant list; moderators get mute and remove buttons. While recording, each
 * person's consent decision (`consents`: peer_id -> true/false) is shown beside them.
 */
export function renderPeople(S, peers, { selfId, moderator, recording = false, consents = new Map() }) {
  const list = $("people-list");
  list.replaceChildren();
  for (const p of peers) {
    const name = p.name + (p.peer_id === selfId ? ` ${S.you}` : "");
    const li = person(p, name, [titleOf(p), p.facility, p.role === "moderator" ? S.moderator : ""]);
    const state = document.createElement("span");
    state.className = "person-state";
    state.textContent = [p.hand ? S.handRaised : "", p.audio === false ? S.micOff : "", p.video === false ? S.camOff : ""]
      .filter(Boolean).join(" · ");
    li.append(state);
    if (recording) {
      const decided = consents.has(p.peer_id);
      const accept = consents.get(p.peer_id);
      // Others' pending answers are known only to whoever saw the request go out.
      if (decided || moderator || p.peer_id === selfId) {
        const consent = document.createElement("span");
        consent.className = "person-consent";
        consent.dataset.consent = !decided ? "pending" : accept ? "accepted" : "declined";
        consent.textContent = !decided ? S.consentPending : accept ? S.consentYes : S.consentNo;
        li.appendChild(consent);
      }
    }
    if (moderator && p.peer_id !== selfId) {
      const actions = document.createElement("div");
      actions.className = "person-actions";
      if (p.audio !== false) actions.appendChild(button(S.muteSomeone, "mute", p.peer_id));
      if (p.role !== "moderator") actions.appendChild(button(S.toLobby, "to-lobby", p.peer_id));
      actions.appendChild(button(S.kick, "kick", p.peer_id, "button-danger"));
      li.appendChild(actions);
    }
    list.appendChild(li);
  }
  $("people-count").textContent = String(peers.length);
}

/** The lobby panel (moderators): who waits, with admit and deny. */
export function renderLobby(S, waiting) {
  const list = $("lobby-list");
  if (!list) return;
  list.replaceChildren();
  for (const p of waiting) {
    const li = person(p, p.name, [titleOf(p), p.facility]);
    const actions = document.createElement("div");
    actions.className = "person-actions";
    actions.append(
      button(S.admit, "admit", p.peer_id, "button-primary"),
      button(S.deny, "deny", p.peer_id),
    );
    li.append(actions);
    list.appendChild(li);
  }
  $("lobby-empty").hidden = waiting.length > 0;
  const count = $("lobby-count");
  count.textContent = String(waiting.length);
  count.hidden = waiting.length === 0;
}
