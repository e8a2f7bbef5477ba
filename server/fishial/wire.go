package fishial

// The service's wire format, shared by the mock and the clients that
// call it. The real service splits authentication and API across two
// hosts (api-users.fishial.ai and api.fishial.ai); the mock serves both,
// and its storage, on one.
//
// Fields are declared in the alphabetical order of their JSON names, the
// order in which encoding/json writes a map, so the bodies are the same
// bytes whichever side builds them.

// Paths of the flow, in the order a client calls them. The upload URL
// is not among them: the signed-upload answer gives it whole.
const (
	PathToken        = "/v1/auth/token"         // on the auth host
	PathSignedUpload = "/v1/recognition/upload" // on the API host
	PathRecognition  = "/v1/recognition/image"  // on the API host, ?q=<signed id>
)

// ParamSignedID is the recognition call's query parameter naming the
// blob.
const ParamSignedID = "q"

// Headers the flow sets or reads beyond plain HTTP's.
const (
	HeaderAuthorization = "Authorization" // BearerPrefix + access token, on API calls
	HeaderRetryAfter    = "Retry-After"   // on a 429: delta-seconds (maybe fractional) or an HTTP date
	HeaderContentMD5    = "Content-MD5"   // on the upload: the checksum the grant names
	BearerPrefix        = "Bearer "
)

// TokenRequest exchanges client credentials for a bearer token.
type TokenRequest struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// TokenResponse carries the token, a JWT whose exp claim is its only
// stated expiry.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"` // "Bearer"
}

// BlobMeta is what a client declares about an image before uploading it.
type BlobMeta struct {
	ByteSize    int64  `json:"byte_size"`
	Checksum    string `json:"checksum"` // base64 MD5 of the bytes
	ContentType string `json:"content_type"`
	Filename    string `json:"filename"` // a base name
}

// UploadRequest asks for a signed upload URL.
type UploadRequest struct {
	Blob BlobMeta `json:"blob"`
}

// UploadResponse is the grant: the blob as recorded, its signed id, and
// where to PUT its bytes with which headers.
type UploadResponse struct {
	ByteSize     int64        `json:"byte-size"`
	Checksum     string       `json:"checksum"`
	ContentType  string       `json:"content-type"`
	CreatedAt    string       `json:"created-at"` // RFC 3339, UTC
	DirectUpload DirectUpload `json:"direct-upload"`
	Filename     string       `json:"filename"`
	ID           int64        `json:"id"`
	Key          string       `json:"key"`
	Metadata     struct{}     `json:"metadata"`
	ServiceName  string       `json:"service-name"`
	SignedID     string       `json:"signed-id"`
}

// DirectUpload is the storage URL for one blob and the headers the PUT
// must carry, exactly as given.
type DirectUpload struct {
	Headers map[string]string `json:"headers"`
	URL     string            `json:"url"`
}

// RecognitionResponse is the answer on an uploaded blob: one result per
// fish found.
type RecognitionResponse struct {
	Results []Recognition `json:"results"`
}

// Recognition is one fish: where it is, and candidate species, the most
// likely first.
type Recognition struct {
	Shape   Shape     `json:"shape"`
	Species []Species `json:"species"`
}

// Shape locates a fish in the image.
type Shape struct {
	BBox []int `json:"bbox"` // x0, y0, x1, y1
}

// Species is one candidate for a fish.
type Species struct {
	Accuracy     float64 `json:"accuracy"`
	FishanglerID string  `json:"fishangler-id"`
	Name         string  `json:"name"`
}

// ErrorResponse is the body of the service's refusals.
type ErrorResponse struct {
	Error string `json:"error"`
}
