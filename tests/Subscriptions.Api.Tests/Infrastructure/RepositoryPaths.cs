using System.Diagnostics;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>Where the repository is, seen from the test binaries below it.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The shared folder beside the repository (../shared), where the team's test data lives.</summary>
    public static string Shared => Path.Combine(Path.GetDirectoryName(Root)!, "shared");

    public static string Screenshots => Path.Combine(Root, "TestResults", "screenshots");

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
}
