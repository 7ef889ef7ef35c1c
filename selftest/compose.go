package selftest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mvpaudit/mvpaudit/testutil"
	"github.com/mvpaudit/mvpaudit/testutil/envfile"
)

// ComposeFile is the reference orchestrator's compose deployment.
const ComposeFile = "deploy/compose.yaml"

// composeDeployment is deploy/compose.yaml running as a project of its own,
// on free loopback ports, audited as an external target.
type composeDeployment struct {
	project string
	command []string
	env     []string
	Config  testutil.Config
}

// composeCLI is `docker compose` when the plugin is there, else the older
// docker-compose.
func composeCLI() ([]string, error) {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}, nil
	}
	if path, err := exec.LookPath("docker-compose"); err == nil {
		return []string{path}, nil
	}
	return nil, errors.New("neither `docker compose` nor `docker-compose` is installed")
}

// startCompose brings the project up from envFile (the audited settings)
// with made-up admin credentials, and returns the external configuration
// that reaches everything it runs: the gateway, its database and Redis as
// the application and as admin, the provider stub, and the containers.
func startCompose(ctx context.Context, root, envFile, name string) (*composeDeployment, error) {
	cli, err := composeCLI()
	if err != nil {
		return nil, err
	}
	env, err := envfile.ReadFile(envFile)
	if err != nil {
		return nil, err
	}
	ports := map[string]string{}
	for _, k := range []string{"ORCHESTRATOR_PORT", "POSTGRES_PORT", "REDIS_PORT", "STUB_PORT"} {
		if ports[k], err = freePort(); err != nil {
			return nil, err
		}
	}
	pgAdmin, redisAdmin, stubToken := token(), token(), token()
	d := &composeDeployment{
		project: "mvpaudit-" + strings.ToLower(strings.ReplaceAll(name, "/", "-")) + "-" + token()[:6],
		command: append(cli, "--env-file", envFile, "-f", filepath.Join(root, ComposeFile)),
		env: append(os.Environ(), "POSTGRES_ADMIN_PASSWORD="+pgAdmin, "REDIS_ADMIN_PASSWORD="+redisAdmin,
			"STUB_CONTROL_TOKEN="+stubToken, "ORCHESTRATOR_ENV_FILE="+envFile),
	}
	d.command = append(d.command, "-p", d.project)
	for k, v := range ports {
		d.env = append(d.env, k+"="+v)
	}
	if err := d.compose(ctx, "up", "-d"); err != nil {
		d.Down()
		return nil, err
	}
	target := "http://127.0.0.1:" + ports["ORCHESTRATOR_PORT"]
	if err := waitReady(ctx, target+"/ready", 90*time.Second); err != nil {
		d.Down()
		return nil, err
	}
	cfg, err := testutil.ConfigFromEnv()
	if err != nil {
		d.Down()
		return nil, err
	}
	cfg.TargetURL, cfg.EnvFile, cfg.StackJSON = target, envFile, ""
	cfg.Profile = filepath.Join(root, "testutil/profiles/reference.yaml")
	cfg.DatabaseURL = onLoopback(env.Get("DATABASE_URL"), ports["POSTGRES_PORT"])
	cfg.AdminDatabaseURL = fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%s/ultra?sslmode=disable", pgAdmin, ports["POSTGRES_PORT"])
	cfg.RedisURL = onLoopback(env.Get("REDIS_URL"), ports["REDIS_PORT"])
	cfg.AdminRedisURL = fmt.Sprintf("redis://audit-admin:%s@127.0.0.1:%s/0", redisAdmin, ports["REDIS_PORT"])
	cfg.StubURL, cfg.StubToken = "http://127.0.0.1:"+ports["STUB_PORT"], stubToken
	cfg.ComposeFile, cfg.ComposeProject = filepath.Join(root, ComposeFile), d.project
	d.Config = cfg
	return d, cfg.Validate()
}

func (d *composeDeployment) compose(ctx context.Context, args ...string) error {
	all := append(append([]string(nil), d.command...), args...)
	cmd := exec.CommandContext(ctx, all[0], all[1:]...)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(append([]string{"compose"}, args...), " "), err, lastLines(string(out), 10))
	}
	return nil
}

// Down removes the project, its network and volumes.
func (d *composeDeployment) Down() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_ = d.compose(ctx, "down", "-v", "--timeout", "1")
}

// onLoopback is an in-network URL with its host moved to the published port.
func onLoopback(raw, port string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.Host = "127.0.0.1:" + port
	return u.String()
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

func waitReady(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if res, err := hc.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("the compose deployment did not answer 200 on %s within %s", url, within)
}

func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
