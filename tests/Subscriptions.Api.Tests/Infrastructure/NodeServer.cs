using System.Diagnostics;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// A server of the tests written for Node (tests/NAME/receiver.cjs, with the npm packages tests/run.sh
/// installs): it prints "listening PORT" once it is ready and exits when its standard input closes.
/// </summary>
public sealed class NodeServer : IDisposable
{
    readonly Process _process;

    NodeServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static async Task<NodeServer> StartAsync(string folder)
    {
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(Path.Combine(RepositoryPaths.Root, "tests", folder, "receiver.cjs"));
        start.ArgumentList.Add(Path.Combine(RepositoryPaths.Root, "tests", ".tools", "node_modules"));
        var process = Process.Start(start)!;
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
        if (line is null || !line.StartsWith("listening ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"tests/{folder} did not start: {line} {await process.StandardError.ReadToEndAsync()}");
        }

        return new NodeServer(process, int.Parse(line["listening ".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }

    public void Dispose()
    {
        _process.StandardInput.Close();
        if (!_process.WaitForExit(5000))
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
