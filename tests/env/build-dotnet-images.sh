#!/bin/bash
# Builds stand-ins of mcr.microsoft.com/dotnet/aspnet:10.0 and mcr.microsoft.com/dotnet/sdk:10.0,
# tagged with those real names, so that src/Subscriptions.Api/Dockerfile builds unchanged on a
# machine with no registry: a Debian root filesystem with the .NET dependencies and the `app` user,
# this machine's .NET runtimes (aspnet) and SDK (sdk) copied in. See dotnet/*/Containerfile.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ASPNET_TAG=${ASPNET_TAG:-mcr.microsoft.com/dotnet/aspnet:10.0}
SDK_TAG=${SDK_TAG:-mcr.microsoft.com/dotnet/sdk:10.0}
ensure_tools
# one build at a time on a machine (two checkouts' test runs may start together); the second finds the images
mkdir -p "$WORK"; exec 9>"$WORK/dotnet-images.lock"; flock 9
podman image exists "$ASPNET_TAG" && podman image exists "$SDK_TAG" && { echo "$ASPNET_TAG and $SDK_TAG exist"; exit 0; }

# the .NET this machine runs (the one `dotnet --info` shows), newest of each part
DOTNET_HOME=$(dirname "$(readlink -f "$(command -v dotnet)")")
newest() { find "$DOTNET_HOME/$1" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -1; }
runtime=$(newest shared/Microsoft.NETCore.App) aspnet=$(newest shared/Microsoft.AspNetCore.App) sdk=$(newest sdk)
fxr=$(newest host/fxr)
for v in "$runtime" "$aspnet" "$sdk"; do
  [[ $v == 10.* ]] || { echo "the tags say 10.0, but this machine's .NET is $runtime / $aspnet / SDK $sdk" >&2; exit 1; }
done

root=$WORK/dotnet-rootfs ctx=$WORK/dotnet-context marker=$WORK/dotnet-sdk.marker
rm -rf "$root" "$ctx"; mkdir -p "$ctx"
m=$(mirror); sec=$(security_mirror)

# --- aspnet: the real runtime-deps image's packages (libc6, libgcc-s1, libstdc++6 are in minbase)
debootstrap --variant=minbase --include=ca-certificates,libicu72,libssl3,tzdata bookworm "$root" "$m" 2>&1 | mask | tail -1
chroot "$root" groupadd --gid=1654 app
chroot "$root" useradd -l --uid=1654 --gid=1654 --create-home app
mkdir -p "$root"/usr/share/dotnet/host/fxr "$root"/usr/share/dotnet/shared/Microsoft.NETCore.App "$root"/usr/share/dotnet/shared/Microsoft.AspNetCore.App
cp -a "$DOTNET_HOME"/dotnet "$DOTNET_HOME"/LICENSE.txt "$DOTNET_HOME"/ThirdPartyNotices.txt "$root"/usr/share/dotnet/
cp -a "$DOTNET_HOME/host/fxr/$fxr" "$root"/usr/share/dotnet/host/fxr/
cp -a "$DOTNET_HOME/shared/Microsoft.NETCore.App/$runtime" "$root"/usr/share/dotnet/shared/Microsoft.NETCore.App/
cp -a "$DOTNET_HOME/shared/Microsoft.AspNetCore.App/$aspnet" "$root"/usr/share/dotnet/shared/Microsoft.AspNetCore.App/
ln -s /usr/share/dotnet/dotnet "$root"/usr/bin/dotnet
cp "$HERE"/dotnet/aspnet/Containerfile "$ctx"/
scrub_and_build "$root" "$ctx" "$ASPNET_TAG" --build-arg "DOTNET_VERSION=$runtime" --build-arg "ASPNET_VERSION=$aspnet"
echo "built $ASPNET_TAG (.NET $runtime, ASP.NET Core $aspnet)"

# --- sdk: the same tree grows; only what changes from here on (ctime newer than the marker) is
# the sdk image's layer on top of the aspnet image, as the real sdk image is built FROM aspnet
touch "$marker"
cp /etc/resolv.conf "$root"/etc/resolv.conf
{ echo "deb $m bookworm main"; echo "deb $m bookworm-updates main"
  [[ -n $sec ]] && echo "deb $sec bookworm-security main"; } > "$root"/etc/apt/sources.list
inchroot "$root" apt-get -qq update 2>&1 | mask
inchroot "$root" apt-get -y -qq -o Dpkg::Use-Pty=0 install --no-install-recommends curl git libatomic1 wget >/dev/null 2>&1
for part in sdk packs sdk-manifests templates dnx; do
  [[ -e $DOTNET_HOME/$part ]] && cp -a "$DOTNET_HOME/$part" "$root"/usr/share/dotnet/
done
# the real image triggers the first-run experience once at build time
inchroot "$root" env HOME=/root DOTNET_NOLOGO=true DOTNET_CLI_TELEMETRY_OPTOUT=1 dotnet help >/dev/null
scrub_rootfs "$root"
rm -f "$ctx"/*
(cd "$root" && find . -mindepth 1 -cnewer "$marker" -print0) \
  | tar --numeric-owner --no-recursion --null -C "$root" -T - -cf "$ctx/sdk-layer.tar"
cp "$HERE"/dotnet/sdk/Containerfile "$ctx"/
podman build -q --format docker --pull=never -t "$SDK_TAG" \
  --build-arg "BASE=$ASPNET_TAG" --build-arg "DOTNET_SDK_VERSION=$sdk" "$ctx" >/dev/null
rm -rf "$root" "$ctx" "$marker"
echo "built $SDK_TAG (SDK $sdk)"
