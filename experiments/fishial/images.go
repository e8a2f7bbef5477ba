package fishial

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Image is one photo of the race: a synthetic underwater shot of a
// fish, the same bytes on every run.
type Image struct {
	Index int
	Name  string // fish-007.jpg
	Data  []byte // image/jpeg
}

// MD5 is the base64 MD5 of the bytes, the checksum the API asks for.
func (im Image) MD5() string {
	sum := md5.Sum(im.Data)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// imageCache keeps generated photos: encoding them is the one costly
// step of preparing a race, and reruns reuse them.
var imageCache struct {
	sync.Mutex
	images []Image
}

// Images returns the first n photos, generating the missing ones
// on every core.
func Images(n int) []Image {
	imageCache.Lock()
	defer imageCache.Unlock()
	have := len(imageCache.images)
	if n > have {
		more := make([]Image, n-have)
		var wg sync.WaitGroup
		next := make(chan int)
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for i := range next {
					more[i-have] = renderFish(i)
				}
			})
		}
		for i := have; i < n; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		imageCache.images = append(imageCache.images, more...)
	}
	return imageCache.images[:n:n]
}

// renderFish draws photo i: water with light ripples, one striped fish,
// and sensor noise, so the JPEG has a phone photo's texture and a size
// of about 45-70 KB, a photo resized for upload.
func renderFish(i int) Image {
	rng := mrand.New(mrand.NewPCG(uint64(i)+1, 0x66697368))
	w := 640 + 32*rng.IntN(6) // 640..800 wide, 4:3
	h := w * 3 / 4
	img := image.NewRGBA(image.Rect(0, 0, w, h))

	hue := rng.Float64()
	body := hsv(hue, 0.75, 0.95)
	stripe := hsv(math.Mod(hue+0.5, 1), 0.6, 0.35)
	cx, cy := float64(w)*(0.35+0.3*rng.Float64()), float64(h)*(0.35+0.3*rng.Float64())
	rx, ry := float64(w)*(0.18+0.1*rng.Float64()), float64(h)*(0.1+0.06*rng.Float64())
	stripes := 3 + rng.Float64()*6
	phase := rng.Float64() * 6
	noise := uint32(rng.Uint64())

	for y := range h {
		depth := float64(y) / float64(h)
		for x := range w {
			fx, fy := float64(x), float64(y)
			ripple := 0.5 + 0.5*math.Sin(fx/37+phase+math.Sin(fy/23))*math.Sin(fy/29-phase)
			r := 20 + 30*(1-depth) + 20*ripple
			g := 90 + 80*(1-depth) + 30*ripple
			b := 140 + 90*(1-depth) + 20*ripple

			dx, dy := (fx-cx)/rx, (fy-cy)/ry
			tail := fx > cx+rx*0.85 && math.Abs(fy-cy) < (fx-cx-rx*0.85)*0.9 && fx < cx+rx*1.45
			switch {
			case dx*dx+dy*dy < 1:
				s := 0.5 + 0.5*math.Sin(dx*stripes*math.Pi)
				shade := 0.75 + 0.25*(1-dy)/2
				r = (float64(body.R)*(1-s*0.7) + float64(stripe.R)*s*0.7) * shade
				g = (float64(body.G)*(1-s*0.7) + float64(stripe.G)*s*0.7) * shade
				b = (float64(body.B)*(1-s*0.7) + float64(stripe.B)*s*0.7) * shade
				if ex, ey := (fx-(cx-rx*0.6))/(ry*0.18), (fy-(cy-ry*0.2))/(ry*0.18); ex*ex+ey*ey < 1 {
					r, g, b = 15, 15, 20
				}
			case tail:
				r, g, b = float64(body.R)*0.8, float64(body.G)*0.8, float64(body.B)*0.8
			}
			// Sensor noise: xorshift, cheap and deterministic.
			noise ^= noise << 13
			noise ^= noise >> 17
			noise ^= noise << 5
			n := float64(noise%19) - 9
			img.Pix[y*img.Stride+x*4+0] = clamp8(r + n)
			img.Pix[y*img.Stride+x*4+1] = clamp8(g + n)
			img.Pix[y*img.Stride+x*4+2] = clamp8(b + n)
			img.Pix[y*img.Stride+x*4+3] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(fmt.Sprintf("encode fish %d: %v", i, err)) // writing to memory cannot fail
	}
	return Image{Index: i, Name: fmt.Sprintf("fish-%03d.jpg", i), Data: buf.Bytes()}
}

func clamp8(v float64) uint8 { return uint8(max(0, min(255, v))) }

func hsv(h, s, v float64) color.RGBA {
	i := math.Floor(h * 6)
	f := h*6 - i
	p, q, t := v*(1-s), v*(1-f*s), v*(1-(1-f)*s)
	var r, g, b float64
	switch int(i) % 6 {
	case 0:
		r, g, b = v, t, p
	case 1:
		r, g, b = q, v, p
	case 2:
		r, g, b = p, v, t
	case 3:
		r, g, b = p, q, v
	case 4:
		r, g, b = t, p, v
	default:
		r, g, b = v, p, q
	}
	return color.RGBA{uint8(r * 255), uint8(g * 255), uint8(b * 255), 255}
}

// writePhotos puts the race's photos in dir before the race starts, as a
// real client has its photos on disk before it sends them: making them
// is not a client's work, reading, hashing and uploading one is.
func writePhotos(dir string, images []Image) error {
	for _, im := range images {
		if err := os.WriteFile(filepath.Join(dir, im.Name), im.Data, 0o644); err != nil {
			return fmt.Errorf("write the race's photos: %w", err)
		}
	}
	return nil
}

// photoBucket serves the photos over HTTP for a node on another machine,
// which cannot read the race's folder: it downloads its photo instead
// (the study's "download from S3").
type photoBucket struct {
	srv    *http.Server
	url    string
	byName map[string][]byte
	served atomic.Int64 // photos downloaded
}

func startPhotoBucket(images []Image) (*photoBucket, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("photo bucket: listen on loopback: %w", err)
	}
	b := &photoBucket{url: "http://" + l.Addr().String(), byName: map[string][]byte{}}
	for _, im := range images {
		b.byName[im.Name] = im.Data
	}
	b.srv = &http.Server{Handler: http.HandlerFunc(b.serve), ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(l)
	return b, nil
}

func (b *photoBucket) serve(w http.ResponseWriter, r *http.Request) {
	data, ok := b.byName[strings.TrimPrefix(r.URL.Path, "/photos/")]
	if r.Method != http.MethodGet || !ok {
		http.NotFound(w, r)
		return
	}
	b.served.Add(1)
	w.Header().Set("Content-Type", "image/jpeg")
	w.Write(data)
}

func (b *photoBucket) Close() error { return b.srv.Close() }
