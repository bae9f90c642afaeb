package app

// initObserve mounts /readyz, /status and /metrics (issue 6; owned by the ops work).
func (a *App) initObserve() error { return nil }
