// A small read-mostly view of the room for the end-to-end tests. main.js installs it as
// window.telemedRoom only when the page was loaded with window.telemedTestHook set to true
// (the tests do so with an init script); a normal page has no such hook.

/** The hook over a running room controller. */
export function testHook(room) {
  const { root, signaling, local, consent } = room;
  // The mesh or the SFU, whichever the room uses now.
  const peers = { connections: () => room.peers.connections() };
  return {
    get view() { return root.dataset.state; },
    get peerId() { return signaling.peerId; },
    get signalingState() { return signaling.state; },
    get micEnabled() { return Boolean(local.audio && local.audio.enabled); },
    get lowBandwidth() { return local.lowbw; },
    get audioOnly() { return local.audioOnly; },
    connections: () => peers.connections(),
    peers: () => [...room.roster.values()].map((p) => ({ ...p })),
    presence: () => room.presence.slice(),
    dropSocket: () => signaling.dropSocket(),
    recording: () => ({
      on: consent.on,
      mine: consent.mine,
      consents: Object.fromEntries(consent.consents),
      recorder: consent.link.pc ? consent.link.pc.connectionState : null,
    }),
    /** Bytes of audio and video sent to the recorder so far (0 when not connected). */
    async recorderBytesSent() {
      const pc = consent.link.pc;
      if (!pc) return { audio: 0, video: 0 };
      const out = { audio: 0, video: 0 };
      (await pc.getStats()).forEach((r) => {
        if (r.type === "outbound-rtp") out[r.kind] = (out[r.kind] || 0) + (r.bytesSent || 0);
      });
      return out;
    },
    join: (mode = "av") => room.join(mode),
    async inboundVideo() {
      const out = [];
      for (const [peerId, pc] of peers.connections()) {
        let frames = 0;
        (await pc.getStats()).forEach((r) => {
          if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
        });
        out.push({ peerId, framesDecoded: frames, state: pc.connectionState });
      }
      return out;
    },
  };
}
