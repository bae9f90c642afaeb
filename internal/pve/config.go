package pve

import "github.com/wecom-home-ops/wecom-home-ops/internal/config"

// NewClient builds the client for one configured cluster. It checks the token id
// (Telmate's ApiTokenID.Parse and Validate), the URLs and the TLS settings, and sends
// nothing: an unreachable cluster is found by Check or Fleet.Start, not here.
func NewClient(c config.Cluster, o Options) (*Client, error) {
	return newClient(specFromConfig(c), o)
}

// NewFleet builds a client per configured cluster. pve.timeout and pve.task_timeout
// fill Options.Timeout and TaskTimeout unless o sets them.
func NewFleet(cfg config.PVE, o Options) (*Fleet, error) {
	if o.Timeout == 0 {
		o.Timeout = cfg.Timeout.Std()
	}
	if o.TaskTimeout == 0 {
		o.TaskTimeout = cfg.TaskTimeout.Std()
	}
	specs := make([]clusterSpec, 0, len(cfg.Clusters))
	for _, c := range cfg.Clusters {
		specs = append(specs, specFromConfig(c))
	}
	return newFleet(specs, o)
}

// specFromConfig is the one place that reads config types (and the token secret).
func specFromConfig(c config.Cluster) clusterSpec {
	return clusterSpec{
		Name: c.Name, BaseURL: c.BaseURL, WebURL: c.WebURL, Endpoints: c.Endpoints,
		TokenID: c.TokenID, TokenSecret: c.TokenSecret.Value(),
		Fingerprints: []string(c.Fingerprint), CAFile: c.CAFile, Insecure: c.InsecureSkipVerify,
	}
}
