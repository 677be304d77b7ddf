"""Scripts run in the pages: which candidates a browser may use, and what it reports."""

from __future__ import annotations

# Every RTCPeerConnection of the page may use relay candidates only, as a browser behind a
# firewall that lets nothing but the TURN server through would. The configurations the page
# asked for are kept in window.rtcConfigs.
RELAY_ONLY = """(() => {
  const Native = window.RTCPeerConnection;
  window.rtcConfigs = [];
  window.RTCPeerConnection = function (config = {}) {
    window.rtcConfigs.push(config);
    return new Native({ ...config, iceTransportPolicy: "relay" });
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
})();"""

# No ICE servers: the page offers host candidates only (a site on the host network).
NO_TURN = """(() => {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (config = {}) {
    return new Native({ ...config, iceServers: [] });
  };
  window.RTCPeerConnection.prototype = Native.prototype;
  Object.setPrototypeOf(window.RTCPeerConnection, Native);
})();"""

# The selected candidate pair of every connection of the room page, through getStats().
SELECTED_PAIRS = """async () => {
  const out = [];
  for (const [peerId, pc] of window.telemedRoom.connections()) {
    const report = await pc.getStats();
    const byId = new Map();
    report.forEach((r) => byId.set(r.id, r));
    report.forEach((r) => {
      if (r.type !== "transport" || !r.selectedCandidatePairId) return;
      const pair = byId.get(r.selectedCandidatePairId);
      const local = byId.get(pair.localCandidateId);
      const remote = byId.get(pair.remoteCandidateId);
      out.push({
        peerId,
        state: pair.state,
        bytesReceived: pair.bytesReceived,
        localType: local.candidateType,
        relayProtocol: local.relayProtocol,
        localUrl: local.url,
        remoteType: remote.candidateType,
      });
    });
  }
  return out;
}"""
