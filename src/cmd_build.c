#include "build_common.h"
#include "cli.h"

static const char help[] =
	"usage: stowage build [STORE-PATH...] [options] -o image.json\n"
	"\n"
	"Writes an image JSON: every layer's digest, size and store paths, and the\n"
	"OCI config. No layer tarball is written anywhere.\n"
	"\n"
	"closure inputs:\n"
	"  STORE-PATH...          store paths; their closure comes from nix path-info\n"
	"  --graph FILE           closure graph: exportReferencesGraph (JSON or text) or\n"
	"                         nix path-info --json output; paths may be plain dirs\n"
	"  --root PATH            copy-to-root: PATH's contents placed at / (top layer);\n"
	"                         a store path's closure is added unless --graph is given\n"
	"  --layer FILE           lower layers (layer or image JSON); the paths they hold\n"
	"                         are left out of the new layers\n"
	"config:\n"
	"  --arch ARCH            amd64, arm64 (variant v8), x86_64, aarch64-linux, ... (required)\n"
	"  --os OS  --variant V   defaults: linux, the architecture's usual variant\n"
	"  --entrypoint ARG|JSON  one argument, or a JSON array; repeatable\n"
	"  --cmd ARG|JSON         likewise\n"
	"  --env K=V  --label K=V  --expose PORT[/PROTO]  --volume PATH   repeatable\n"
	"  --user USER  --workdir DIR  --author NAME\n"
	"  --created TIME         RFC 3339; default 1970-01-01T00:00:01Z (reproducible)\n"
	"  --name NAME --tag TAG  the reference archives and layouts get by default\n"
	"layering:\n"
	"  --max-layers N         layers in the whole image (default 100)\n"
	"  --strategy S           size (default: no catch-all layer) or popularity\n"
	"  --perm REGEX=MODE[:UID[:GID]]  set mode/owner of image paths matching REGEX\n"
	"  --compression C        gzip (default), zstd or none; pinned parameters\n"
	"other:\n"
	"  -o, --output FILE      where to write the JSON (default stdout)\n"
	"  --store-dir DIR        default /nix/store\n"
	"  --cache-dir DIR        digest cache, and the compressed layers made, for push and\n"
	"                         copy (default $XDG_CACHE_HOME/stowage; $STOWAGE_BLOB_CACHE_MAX)\n"
	"  --no-cache             compute every digest from content, keep no layer\n"
	"  --jobs N               layers hashed in parallel (default: one per core)\n"
	"  --json                 print a machine-readable summary on stdout\n";

int cmd_build(int argc, char **argv)
{
	return build_main(argc, argv, 1, help);
}
