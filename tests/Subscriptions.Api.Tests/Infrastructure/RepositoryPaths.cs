using System.Diagnostics;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>Where the repository is, seen from the test binaries below it.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>
    /// The shared folder beside the repository (../shared), where the team's test data lives; for
    /// a clone made elsewhere (git clone . /tmp/fresh), the one beside the repository it was cloned from.
    /// </summary>
    public static string Shared { get; } = FindShared();

    /// <summary>Where browser tests save screenshots: SUBSCRIPTIONS_SCREENSHOTS when set (a folder outside the repository, say), else TestResults/screenshots.</summary>
    public static string Screenshots =>
        Environment.GetEnvironmentVariable("SUBSCRIPTIONS_SCREENSHOTS") is { Length: > 0 } folder ? Path.GetFullPath(folder) : Path.Combine(Root, "TestResults", "screenshots");

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Subscriptions.sln")))
            {
                return dir.FullName;
            }
        }

        throw new UnreachableException("the repository root is above the test binaries");
    }

    static string FindShared()
    {
        var besideRoot = Beside(Root);
        if (Directory.Exists(besideRoot))
        {
            return besideRoot;
        }

        using var git = Process.Start(new ProcessStartInfo("git", ["-C", Root, "config", "--get", "remote.origin.url"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        });
        var origin = git?.StandardOutput.ReadToEnd().Trim();
        git?.WaitForExit();
        return !string.IsNullOrEmpty(origin) && Directory.Exists(origin) && Directory.Exists(Beside(Path.GetFullPath(origin)))
            ? Beside(Path.GetFullPath(origin))
            : besideRoot;

        static string Beside(string repository) => Path.Combine(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(repository))!, "shared");
    }
}
