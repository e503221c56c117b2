package mockllm

// SetTestHookDone makes s call f whenever a chat completion request ends.
// Call it before s serves any request.
func SetTestHookDone(s *Server, f func()) { s.testHookDone = f }

// Routes are the patterns a Server's handler serves.
var Routes = routes
