package routing

import "math"

// windowSeconds is the length of the sliding RPM/TPM window.
const windowSeconds = 60

// window counts requests and tokens over the last minute in one-second
// buckets, as providers count RPM and TPM. The zero value is empty.
type window struct {
	last   int64 // the second of the newest bucket
	reqs   [windowSeconds]int32
	toks   [windowSeconds]int64
	sumReq int
	sumTok int
}

// advance expires the buckets older than a minute before second sec.
func (w *window) advance(sec int64) {
	if sec <= w.last {
		return
	}
	if sec-w.last >= windowSeconds {
		*w = window{last: sec}
		return
	}
	for s := w.last + 1; s <= sec; s++ {
		i := s % windowSeconds
		if i < 0 {
			i += windowSeconds
		}
		w.sumReq -= int(w.reqs[i])
		w.sumTok = max(w.sumTok-int(w.toks[i]), 0) // a saturated sum must not go negative
		w.reqs[i], w.toks[i] = 0, 0
	}
	w.last = sec
}

// add counts one request of tokens at second sec.
func (w *window) add(sec int64, tokens int) {
	w.advance(sec)
	i := sec % windowSeconds
	if i < 0 {
		i += windowSeconds
	}
	if sec < w.last { // late: count it in the newest bucket
		i = w.last % windowSeconds
		if i < 0 {
			i += windowSeconds
		}
	}
	tokens = max(tokens, 0)
	w.reqs[i]++
	w.toks[i] = int64(satAdd(int(w.toks[i]), tokens))
	w.sumReq++
	w.sumTok = satAdd(w.sumTok, tokens)
}

// satAdd returns a+b for non-negative a and b, or the largest int when
// the sum would overflow: token counts fill a window, they never wrap it
// to a negative sum that reads as spare capacity.
func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// remove un-counts a request of tokens counted at second sec, if its bucket
// is still in the window.
func (w *window) remove(sec int64, tokens int) {
	if sec > w.last || w.last-sec >= windowSeconds {
		return
	}
	i := sec % windowSeconds
	if i < 0 {
		i += windowSeconds
	}
	if w.reqs[i] == 0 {
		return
	}
	tokens = min(max(tokens, 0), int(w.toks[i]))
	w.reqs[i]--
	w.toks[i] -= int64(tokens)
	w.sumReq--
	w.sumTok = max(w.sumTok-tokens, 0)
}
