using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// A real DNS server on 127.0.0.1 (UDP, ARSoft.Tools.Net's server) answering from a small zone,
/// counting the queries it gets. Names not in the zone are NXDOMAIN.
/// </summary>
public sealed class DnsTestServer : IDisposable
{
    readonly DnsServer _server;
    readonly ConcurrentDictionary<string, List<DnsRecordBase>> _zone = new(StringComparer.OrdinalIgnoreCase);
    readonly ConcurrentDictionary<string, ReturnCode> _failures = new(StringComparer.OrdinalIgnoreCase);
    readonly ConcurrentQueue<(string Name, RecordType Type)> _queries = new();

    public DnsTestServer()
    {
        Port = FreeUdpPort();
        _server = new DnsServer(new UdpServerTransport(new IPEndPoint(IPAddress.Loopback, Port)));
        _server.QueryReceived += Answer;
        _server.Start();
    }

    public int Port { get; }

    /// <summary>For Signup__DnsServers__0.</summary>
    public string Address => $"127.0.0.1:{Port}";

    public IReadOnlyCollection<(string Name, RecordType Type)> Queries => _queries;

    public int QueriesFor(string name) => _queries.Count(q => string.Equals(q.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The name exists (NOERROR), with these records (none: it exists with no record of any type asked).</summary>
    public DnsTestServer Add(string name, params DnsRecordBase[] records)
    {
        _zone.GetOrAdd(name, _ => []).AddRange(records);
        return this;
    }

    public DnsTestServer Mx(string name, string exchange, ushort preference = 10) =>
        Add(name, new MxRecord(DomainName.Parse(name), 300, preference, exchange == "." ? DomainName.Root : DomainName.Parse(exchange)));

    public DnsTestServer A(string name, string address = "192.0.2.25") => Add(name, new ARecord(DomainName.Parse(name), 300, IPAddress.Parse(address)));

    public DnsTestServer Aaaa(string name, string address = "2001:db8::25") => Add(name, new AaaaRecord(DomainName.Parse(name), 300, IPAddress.Parse(address)));

    /// <summary>Every query for the name gets this error (SERVFAIL, REFUSED).</summary>
    public DnsTestServer Fail(string name, ReturnCode code)
    {
        _failures[name] = code;
        return this;
    }

    Task Answer(object sender, QueryReceivedEventArgs e)
    {
        if (e.Query is not DnsMessage query || query.Questions.Count != 1)
        {
            return Task.CompletedTask;
        }

        var question = query.Questions[0];
        var name = question.Name.ToString().TrimEnd('.');
        _queries.Enqueue((name, question.RecordType));
        var response = query.CreateResponseInstance();
        response.IsAuthoritiveAnswer = true;
        if (_failures.TryGetValue(name, out var failure))
        {
            response.ReturnCode = failure;
        }
        else if (_zone.TryGetValue(name, out var records))
        {
            response.ReturnCode = ReturnCode.NoError;
            foreach (var record in records.Where(r => r.RecordType == question.RecordType))
            {
                response.AnswerRecords.Add(record);
            }
        }
        else
        {
            response.ReturnCode = ReturnCode.NxDomain;
        }

        e.Response = response;
        return Task.CompletedTask;
    }

    static int FreeUdpPort()
    {
        using var probe = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.Client.LocalEndPoint!).Port;
    }

    public void Dispose()
    {
        try
        {
            _server.Stop();
        }
        catch (AggregateException stopped) when (stopped.InnerExceptions.All(e => e is OperationCanceledException))
        {
            // the server's listening task ends by being cancelled
        }
    }
}

/// <summary>A UDP socket on 127.0.0.1 that takes queries and never answers: a resolver that hangs.</summary>
public sealed class SilentDnsServer : IDisposable
{
    readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));

    public string Address => $"127.0.0.1:{((IPEndPoint)_socket.Client.LocalEndPoint!).Port}";

    public void Dispose() => _socket.Dispose();
}
