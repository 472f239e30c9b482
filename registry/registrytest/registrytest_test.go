package registrytest

import (
	"net/http"
	"testing"
)

func status(t *testing.T, url, user, password string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestStart(t *testing.T) {
	r := Start(t)
	if got := status(t, "http://"+r.Host+"/v2/", "", ""); got != http.StatusOK {
		t.Errorf("GET /v2/: %d", got)
	}
	r.Stop()
	if _, err := http.Get("http://" + r.Host + "/v2/"); err == nil {
		t.Error("still running after Stop")
	}
}

func TestStartWithAuth(t *testing.T) {
	r := Start(t, WithAuth("bob", "pw"))
	for _, tc := range []struct {
		user, password string
		want           int
	}{
		{"", "", http.StatusUnauthorized},
		{"bob", "wrong", http.StatusUnauthorized},
		{"bob", "pw", http.StatusOK},
	} {
		if got := status(t, "http://"+r.Host+"/v2/", tc.user, tc.password); got != tc.want {
			t.Errorf("%s:%s: %d, want %d", tc.user, tc.password, got, tc.want)
		}
	}
}

func TestStartInMemory(t *testing.T) {
	r := StartInMemory(t)
	if got := status(t, "http://"+r.Host+"/v2/", "", ""); got != http.StatusOK {
		t.Errorf("GET /v2/: %d", got)
	}
}
