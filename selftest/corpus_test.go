package selftest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVariantPlantsTheDefect(t *testing.T) {
	for _, d := range Corpus {
		v := d.Variant()
		assert.Equal(t, d.Sections, v.Sections, d.Name)
		switch {
		case d.Dialect != "":
			assert.Equal(t, DefectsImage, v.Image, d.Name)
			assert.Equal(t, map[string]string{"ORCHESTRATOR_DEFECTS": d.Name, "API_DIALECT": d.Dialect}, v.Env, d.Name)
			assert.Equal(t, "testutil/profiles/"+d.Dialect+".yaml", v.Profile, d.Name)
			assert.FileExists(t, filepath.Join("..", v.Profile))
		case d.Kind == Code:
			assert.Equal(t, DefectsImage, v.Image, d.Name)
			assert.Equal(t, map[string]string{"ORCHESTRATOR_DEFECTS": d.Name}, v.Env, d.Name)
		default:
			assert.Empty(t, v.Image, "%s runs the default image", d.Name)
			assert.Equal(t, d.Env, v.Env, d.Name)
		}
	}
}

func TestWriteEnvFileChangesInPlace(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.env")
	require.NoError(t, os.WriteFile(base, []byte("# APP_ENV=commented\nAPP_ENV=production\nexport JWT_SECRET=x\nKEEP=1\n"), 0o600))
	path, err := WriteEnvFile(dir, "v", base, map[string]string{"APP_ENV": "development", "JWT_SECRET": "y", "NEW": "z"})
	require.NoError(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "# APP_ENV=commented\nAPP_ENV=development\nJWT_SECRET=y\nKEEP=1\nNEW=z\n", string(got))
}

func TestUnderDialectPlantsEachCodeDefectOnce(t *testing.T) {
	corpus := []Defect{
		{Name: "a", Kind: Code, Expect: []string{"X-1", "NA-1"}},
		{Name: "b", Kind: Code, Expect: []string{"X-2"}},
		{Name: "b", Kind: Code, Dialect: "d", Expect: []string{"X-3"}},
		{Name: "c", Kind: Code, Expect: []string{"NA-1"}},
		{Name: "e", Kind: Code, Dialect: "other", Expect: []string{"X-4"}},
		{Name: "s", Kind: Configuration, Expect: []string{"X-5"}},
	}
	planted, skipped := UnderDialect(corpus, "d", []string{"NA-1"})
	assert.Equal(t, []Defect{
		{Name: "a", Kind: Code, Dialect: "d", Expect: []string{"X-1"}},
		{Name: "b", Kind: Code, Dialect: "d", Expect: []string{"X-3"}},
	}, planted)
	assert.Equal(t, map[string][]string{"c": {"NA-1"}}, skipped)
	assert.Equal(t, []string{"X-1", "NA-1"}, corpus[0].Expect, "the corpus is left as it was")
}
