// Adaptation that holds the voice on thin links (docs/rural-links.md). No DOM code here.
//
// - Audio first: Opus with redundancy (RED, RFC 2198) preferred where the browser offers it,
//   so a lost packet's audio arrives in the next one; the audio sender's priority is raised
//   above video, so congestion control takes bandwidth from video first. Opus in-band FEC is
//   on in Chromium's default SDP (useinbandfec=1) and needs nothing here.
// - Video yields by source: a camera keeps its frame rate (resolution drops first); a shared
//   screen or image keeps its resolution (the frame rate drops first).
//
// The link harness switches all of it off with `window.telemedAdapt = false` to measure the
// difference; pages never set it.

function enabled() {
  return globalThis.telemedAdapt !== false;
}

/** Prefer Opus with RED on an audio transceiver (before the offer or answer is made). */
export function preferRedundantAudio(transceiver) {
  if (!enabled() || !transceiver || typeof transceiver.setCodecPreferences !== "function") return;
  const caps = globalThis.RTCRtpReceiver && RTCRtpReceiver.getCapabilities
    ? RTCRtpReceiver.getCapabilities("audio")
    : null;
  if (!caps) return;
  const isRed = (c) => c.mimeType.toLowerCase() === "audio/red";
  const red = caps.codecs.filter(isRed);
  if (red.length === 0) return;
  try {
    transceiver.setCodecPreferences([...red, ...caps.codecs.filter((c) => !isRed(c))]);
  } catch {
    // A browser that lists RED but refuses the order keeps its default.
  }
}

/** Audio above video: raise the sender's priority (once negotiated). */
export async function raiseAudio(sender) {
  if (!enabled() || !sender) return;
  const params = sender.getParameters();
  if (!params.encodings || params.encodings.length === 0) return;
  let changed = false;
  for (const enc of params.encodings) {
    if (enc.priority !== "high" || enc.networkPriority !== "high") {
      enc.priority = "high";
      enc.networkPriority = "high";
      changed = true;
    }
  }
  if (changed) await sender.setParameters(params);
}

/** The degradation preference for a video track: screens keep resolution, cameras frame rate. */
export function degradationFor(track) {
  if (!track) return null;
  const settings = typeof track.getSettings === "function" ? track.getSettings() : {};
  const screen = Boolean(settings.displaySurface) || track.contentHint === "detail" ||
    track.contentHint === "text";
  return screen ? "maintain-resolution" : "maintain-framerate";
}

/** Set the degradation preference into video sender parameters about to be applied. */
export function tuneVideoParams(params, track) {
  if (!enabled()) return params;
  const preference = degradationFor(track);
  if (preference) params.degradationPreference = preference;
  return params;
}
