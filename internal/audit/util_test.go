package audit

import "runtime"

func runtimeGosched() { runtime.Gosched() }
