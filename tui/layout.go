package tui

// panelKind names a panel of the bottom row.
type panelKind int

const (
	panelFigures panelKind = iota
	panelWhy
	panelSeed
	panelSweep
	panelRPS
	panelSplit
)

type placed struct {
	kind panelKind
	w    int
}

// loadLayout is where everything goes for the page's size.
type loadLayout struct {
	knobW, topH int
	latH, rpsH  int // rpsH is 0 when the throughput chart is in the bottom row
	botH        int
	bottom      []placed
	allFit      bool
	chartsW     int
}

// layout fits the panels to the page: knobs and charts on top, the
// figures and the panels that explain them below. What does not fit
// side by side is reached with tab, one panel replacing another.
func (p *loadPage) layout() loadLayout {
	w, h := p.width, p.height
	l := loadLayout{knobW: 26}
	if w >= 100 {
		l.knobW = 30
	}
	l.chartsW = w - l.knobW
	body := h - 1 // the health line
	open := p.loadModel().Model == "open"
	// A sweep is what the presenter watches while it runs, so it comes
	// right after the figures.
	cands := []panelKind{panelFigures}
	if p.sweep != nil {
		cands = append(cands, panelSweep)
	}
	// Where the time went explains the figures first-hand, from the
	// service's own Server-Timing.
	cands = append(cands, panelSplit)
	if p.info.hasTwin {
		cands = append(cands, panelWhy)
	}
	if p.sweep == nil && p.info.lesson != "" {
		cands = append(cands, panelSeed)
	}
	need := 0
	for _, k := range cands {
		need = max(need, p.panelHeight(k, open))
	}
	minTop := max(9, len(p.keys.Knobs)+4)
	l.botH = max(min(need, body-minTop), 0)
	if l.botH < 4 {
		l.botH = 0 // a frame with nothing in it helps no one
	}
	l.topH = body - l.botH
	if l.topH >= 15 {
		l.rpsH = max(6, l.topH*2/5)
		l.latH = l.topH - l.rpsH
	} else {
		l.latH = l.topH
		cands = append(cands, panelRPS)
	}
	at := p.panelAt % len(cands)
	order := append(append([]panelKind{}, cands[at:]...), cands[:at]...)
	used := 0
	for _, k := range order {
		mw, _ := panelWidths(k)
		if len(l.bottom) > 0 && used+mw > w {
			break
		}
		l.bottom = append(l.bottom, placed{kind: k, w: mw})
		used += mw
	}
	l.allFit = len(l.bottom) == len(cands) || l.botH == 0
	l.share(w - used)
	return l
}

// share gives the width the bottom row's panels leave over, extra, to
// the panels that use it best.
func (l *loadLayout) share(extra int) {
	// Width left over goes first to a sweep, then to the split, then to
	// the figures (up to the columns that matter once they share the
	// row), then to the rest.
	grow := func(kind panelKind, pref int) {
		for i := range l.bottom {
			if l.bottom[i].kind == kind {
				add := max(min(extra, pref-l.bottom[i].w), 0)
				l.bottom[i].w += add
				extra -= add
			}
		}
	}
	grow(panelSweep, sweepWidth)
	// The split's bars are seconds: half a minute of them before the
	// figures' wider columns.
	grow(panelSplit, splitSharedWidth)
	figPref := figuresWidth
	if len(l.bottom) > 1 {
		figPref = figuresSharedWidth
	}
	grow(panelFigures, figPref)
	for _, pl := range l.bottom {
		_, pw := panelWidths(pl.kind)
		grow(pl.kind, pw)
	}
	l.bottom[len(l.bottom)-1].w += extra
}

func (p *loadPage) panelHeight(k panelKind, open bool) int {
	switch k {
	case panelFigures:
		return figuresHeight(open, len(p.thresholds) > 0)
	case panelWhy:
		return whyHeightFor(p.frame.why)
	case panelSplit:
		return splitHeight
	case panelSeed:
		return seedMaxHeight
	case panelSweep:
		return sweepHeight(max(p.sweep.total, len(p.sweep.cells)))
	}
	return 0
}

func panelWidths(k panelKind) (minW, prefW int) {
	switch k {
	case panelFigures:
		return figuresMinWidth, figuresWidth
	case panelWhy:
		return whyWidth - 2, whyWidth
	case panelSeed:
		return seedMinWidth, seedWidth
	case panelSweep:
		return sweepMinWidth, sweepWidth
	case panelSplit:
		return splitMinWidth, splitWidth
	}
	return 30, 30
}
