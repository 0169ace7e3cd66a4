package proto

import plugin "github.com/hashicorp/go-plugin"

// ProtocolVersion is the revision of this wire protocol. Bump it (and the
// handshake below follows) whenever stage.proto changes incompatibly; a host
// and a plugin built with different revisions then refuse each other at the
// go-plugin handshake with a "recompile the plugin" message.
const ProtocolVersion = 1

// MaxMessageBytes is the largest gRPC message either side sends or accepts
// (gRPC's default is 4 MiB). A run request lists one path per input file: a
// final stage reading 100,000 inputs sends about 15 MB.
const MaxMessageBytes = 64 << 20

// PluginKey is the single go-plugin plugin-set key both sides register.
const PluginKey = "stage"

// Handshake is the go-plugin handshake shared by host and plugins. The magic
// cookie is not a security measure: it only makes a plugin binary started by
// hand print a friendly message instead of waiting for a host.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "DEMYSTIFY_RESNET_PLUGIN",
	MagicCookieValue: "b6f0f0c2-stage-plugin-v1",
}
