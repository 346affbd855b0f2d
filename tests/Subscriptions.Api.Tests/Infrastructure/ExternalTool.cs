using System.Diagnostics;
using System.Text;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>A program that is not .NET's own test host (node, dotnet tools), run from the repository root.</summary>
public static class ExternalTool
{
    /// <summary>Runs it to the end; fails the test if it takes longer than the timeout.</summary>
    /// <param name="userName">Another user to run it as (PostgreSQL's server programs refuse root); the test host must be root then.</param>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string fileName, IEnumerable<string> arguments, TimeSpan timeout, Dictionary<string, string>? environment = null, string? userName = null)
    {
        using var process = Start(fileName, arguments, environment, userName, out var output);
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish in {timeout}: {output}");
        }

        process.WaitForExit(); // the output events have drained
        return (process.ExitCode, output.ToString());
    }

    /// <summary>Starts a long-running one (a server) and keeps its output; dispose the result to stop it.</summary>
    /// <param name="userName">Another user to run it as (PgBouncer refuses root); the test host must be root then.</param>
    public static RunningTool Start(
        string fileName, IEnumerable<string> arguments, Dictionary<string, string>? environment = null, string? userName = null) =>
        new(Start(fileName, arguments, environment, userName, out var output), output);

    static Process Start(
        string fileName, IEnumerable<string> arguments, Dictionary<string, string>? environment, string? userName, out StringBuilder output)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // another user may not be allowed into the repository
            WorkingDirectory = userName is null ? RepositoryPaths.Root : Path.GetTempPath(),
            UserName = userName,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? [])
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start)!;
        var collected = new StringBuilder();
        void Collect(object _, DataReceivedEventArgs e)
        {
            lock (collected)
            {
                collected.AppendLine(e.Data);
            }
        }

        process.OutputDataReceived += Collect;
        process.ErrorDataReceived += Collect;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        output = collected;
        return process;
    }
}

public sealed class RunningTool(Process process, StringBuilder output) : IAsyncDisposable
{
    public string Output
    {
        get
        {
            lock (output)
            {
                return output.ToString();
            }
        }
    }

    public bool HasExited => process.HasExited;

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }
}
