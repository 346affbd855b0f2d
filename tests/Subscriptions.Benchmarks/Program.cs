using System.Diagnostics;
using MailKit.Net.Smtp;
using MailKit.Security;
using MimeKit;
using Subscriptions.Api.Confirmation;
using Subscriptions.Api.Mail;
using Subscriptions.Api.Signup;

// The dispatch baseline: a plain MailKit loop sending N confirmation mails over one connection,
// as fast as the SMTP server takes them. The messages are the service's own (ConfirmationMail.Compose),
// so the two differ only in what the service does around them. Prints messages per second.
//   dotnet Subscriptions.Benchmarks.dll <smtp host> <smtp port> <count>
// With "signup-sql" it prints the signup endpoint's statement instead, for the pgbench baseline.
//   dotnet Subscriptions.Benchmarks.dll signup-sql
if (args is ["signup-sql"])
{
    Console.Out.Write(SignupEndpoints.SubscribeSql);
    return;
}

var host = args.ElementAtOrDefault(0) ?? "127.0.0.1";
var port = int.Parse(args.ElementAtOrDefault(1) ?? "1025", System.Globalization.CultureInfo.InvariantCulture);
var count = int.Parse(args.ElementAtOrDefault(2) ?? "10000", System.Globalization.CultureInfo.InvariantCulture);
var from = MailboxAddress.Parse(new SmtpOptions().From);

using var client = new SmtpClient();
await client.ConnectAsync(host, port, SecureSocketOptions.None);
var stopwatch = Stopwatch.StartNew();
for (var i = 0; i < count; i++)
{
    var link = new Uri($"http://127.0.0.1:5091/confirm/{Token.Mint().Token}");
    var message = ConfirmationMail.Compose(
        from, new MailboxAddress(null, $"baseline{i}@example.org"), "News", ConfirmationMail.DefaultLanguage, link, TimeSpan.FromDays(7), DateTimeOffset.UtcNow);
    await client.SendAsync(message);
}

stopwatch.Stop();
await client.DisconnectAsync(true);
Console.WriteLine($"{count / stopwatch.Elapsed.TotalSeconds:F0}");
