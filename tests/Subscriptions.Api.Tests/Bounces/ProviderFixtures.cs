using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Bounces;

/// <summary>
/// Requests as each provider sends them, built from the examples in the providers' own
/// documentation (the address, ids and times changed to the test's), signed by openssl
/// (<see cref="ProviderSigning"/>):
/// Postmark https://postmarkapp.com/developer/webhooks/bounce-webhook and
/// https://postmarkapp.com/developer/webhooks/spam-complaint-webhook;
/// Mailgun https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-payloads and
/// https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks;
/// SendGrid https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event and
/// https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features;
/// SES https://docs.aws.amazon.com/ses/latest/dg/notification-examples.html inside SNS messages as
/// https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html describes them, signed as
/// https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html says.
/// </summary>
public static class ProviderFixtures
{
    public const string Route = "/api/webhooks/bounces/";

    // Postmark's documented bounce example
    public static string PostmarkBounce(string email, long id = 4323372036854775807, string type = "HardBounce", int typeCode = 1) => $$"""
        {
          "RecordType": "Bounce",
          "MessageStream": "outbound",
          "ID": {{id}},
          "Type": "{{type}}",
          "TypeCode": {{typeCode}},
          "Name": "Hard bounce",
          "Tag": "Test",
          "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
          "Metadata": {
            "a_key": "a_value",
            "b_key": "b_value"
          },
          "ServerID": 23,
          "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
          "Details": "Test bounce details",
          "Email": "{{email}}",
          "From": "sender@example.com",
          "BouncedAt": "2019-11-05T16:33:54.9070259Z",
          "DumpAvailable": true,
          "Inactive": true,
          "CanActivate": true,
          "Subject": "Test subject",
          "Content": "<Full dump of bounce>"
        }
        """;

    // Postmark's documented spam complaint example
    public static string PostmarkComplaint(string email, long id = 42) => $$"""
        {
          "RecordType": "SpamComplaint",
          "MessageStream": "outbound",
          "ID": {{id}},
          "Type": "SpamComplaint",
          "TypeCode": 512,
          "Name": "Spam complaint",
          "Tag": "Test",
          "MessageID": "00000000-0000-0000-0000-000000000000",
          "Metadata": {
            "a_key": "a_value",
            "b_key": "b_value"
          },
          "ServerID": 1234,
          "Description": "",
          "Details": "Test spam complaint details",
          "Email": "{{email}}",
          "From": "sender@example.com",
          "BouncedAt": "2019-11-05T16:33:54.9070259Z",
          "DumpAvailable": true,
          "Inactive": true,
          "CanActivate": false,
          "Subject": "Test subject",
          "Content": "<Abuse report dump>"
        }
        """;

    public static HttpRequestMessage Postmark(string body, string? authorization = null) =>
        Request("postmark", body, "application/json", [new("Authorization", authorization ?? ProviderSigning.PostmarkAuthorization())]);

    // Mailgun's documented "failed" (permanent) event, signature block as "Securing Webhooks" shows it
    public static string MailgunEvent(string email, string eventId = "G9Bn5sl1TC6nu79C8C0bwg", string @event = "failed", string severity = "permanent",
        string? timestamp = null, string? token = null, string? signature = null, string? outboxId = null)
    {
        timestamp ??= ProviderSigning.UnixNow();
        token ??= Convert.ToHexString(Guid.NewGuid().ToByteArray()).ToLowerInvariant() + "0123456789abcdef01";
        signature ??= ProviderSigning.MailgunSignature(timestamp, token);
        var variables = outboxId is null ? "{}" : $$"""{"subscriptions-outbox-id": "{{outboxId}}"}""";
        return $$"""
            {
              "signature": {
                "timestamp": "{{timestamp}}",
                "token": "{{token}}",
                "signature": "{{signature}}"
              },
              "event-data": {
                "event": "{{@event}}",
                "id": "{{eventId}}",
                "timestamp": 1521233123.501324,
                "log-level": "error",
                "severity": "{{severity}}",
                "reason": "suppress-bounce",
                "envelope": {
                  "sender": "bob@sandbox.mailgun.org",
                  "transport": "smtp",
                  "targets": "{{email}}"
                },
                "flags": {
                  "is-routed": false,
                  "is-authenticated": true,
                  "is-system-test": false,
                  "is-test-mode": false
                },
                "delivery-status": {
                  "attempt-no": 1,
                  "message": "",
                  "code": 605,
                  "description": "Not delivering to previously bounced address",
                  "session-seconds": 0
                },
                "message": {
                  "headers": {
                    "to": "{{email}}",
                    "message-id": "20130503182626.18666.16540@sandbox.mailgun.org",
                    "from": "Bob <bob@sandbox.mailgun.org>",
                    "subject": "Test permanent_fail webhook"
                  },
                  "attachments": [],
                  "size": 111
                },
                "recipient": "{{email}}",
                "recipient-domain": "example.com",
                "storage": {
                  "url": "https://se.api.mailgun.net/v3/domains/sandbox.mailgun.org/messages/message_key",
                  "key": "message_key"
                },
                "campaigns": [],
                "tags": ["my_tag_1", "my_tag_2"],
                "user-variables": {{variables}}
              }
            }
            """;
    }

    public static HttpRequestMessage Mailgun(string body) => Request("mailgun", body, "application/json", []);

    // SendGrid's documented bounce, dropped and spamreport events (one batch)
    public static string SendGridEvents(string email, string prefix = "sg") => $$"""
        [
          {
            "email": "{{email}}",
            "timestamp": 1513299569,
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            "event": "bounce",
            "category": "cat facts",
            "sg_event_id": "{{prefix}}-bounce-6g4ZI7SA-xmRDv57GoPIPw==",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "reason": "500 unknown recipient",
            "status": "5.0.0",
            "type": "bounce"
          },
          {
            "email": "{{email}}",
            "timestamp": 1513299569,
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            "event": "delivered",
            "category": "cat facts",
            "sg_event_id": "{{prefix}}-delivered-rWVYmVk90MjZJ9iohOBa3w==",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
            "response": "250 OK"
          }
        ]
        """;

    public static string SendGridSpamReport(string email, string eventId = "sg-spamreport-1") => $$"""
        [
          {
            "email": "{{email}}",
            "timestamp": 1513299569,
            "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
            "event": "spamreport",
            "category": "cat facts",
            "sg_event_id": "{{eventId}}",
            "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"
          }
        ]
        """;

    public static HttpRequestMessage SendGrid(string body, string? timestamp = null, string? signature = null)
    {
        timestamp ??= ProviderSigning.UnixNow();
        signature ??= ProviderSigning.SendGridSignature(timestamp, Encoding.UTF8.GetBytes(body));
        return Request("sendgrid", body, "application/json",
            [new("X-Twilio-Email-Event-Webhook-Signature", signature), new("X-Twilio-Email-Event-Webhook-Timestamp", timestamp)]);
    }

    // SES's documented bounce notification with a DSN, and its complaint notification
    public static string SesBounce(string email, string feedbackId = "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000", string bounceType = "Permanent") => $$"""
        {"notificationType":"Bounce","bounce":{"bounceType":"{{bounceType}}","reportingMTA":"dns; email.example.com",
        "bouncedRecipients":[{"emailAddress":"{{email}}","status":"5.1.1","action":"failed","diagnosticCode":"smtp; 550 5.1.1 <{{email}}>... User"}],
        "bounceSubType":"General","timestamp":"2016-01-27T14:59:38.237Z","feedbackId":"{{feedbackId}}","remoteMtaIp":"127.0.2.0"},
        "mail":{"timestamp":"2016-01-27T14:59:38.237Z","source":"john@example.com",
        "sourceArn":"arn:aws:ses:us-east-1:888888888888:identity/example.com","sourceIp":"127.0.3.0","sendingAccountId":"123456789012",
        "callerIdentity":"IAM_user_or_role_name","messageId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        "destination":["{{email}}"],"headersTruncated":false,
        "headers":[{"name":"From","value":"\"John Doe\" <john@example.com>"},{"name":"To","value":"{{email}}"},
        {"name":"X-Subscriptions-Outbox-Id","value":"77"}],
        "commonHeaders":{"from":["John Doe <john@example.com>"],"to":["{{email}}"],"subject":"Hello"} } }
        """;

    public static string SesComplaint(string email, string feedbackId = "0000013786031775-163e3910-53eb-4c8e-a04a-f29debf88a84-000000") => $$"""
        {"notificationType":"Complaint","complaint":{"userAgent":"AnyCompany Feedback Loop (V0.01)",
        "complainedRecipients":[{"emailAddress":"{{email}}"}],"complaintFeedbackType":"abuse","arrivalDate":"2016-01-27T14:59:38.237Z",
        "timestamp":"2016-01-27T14:59:38.237Z","feedbackId":"{{feedbackId}}"},
        "mail":{"timestamp":"2016-01-27T14:59:38.237Z","messageId":"000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
        "source":"john@example.com","sourceArn":"arn:aws:ses:us-east-1:888888888888:identity/example.com","sourceIp":"127.0.3.0",
        "sendingAccountId":"123456789012","callerIdentity":"IAM_user_or_role_name","destination":["{{email}}"]} }
        """;

    /// <summary>An SNS Notification carrying <paramref name="message"/>, signed with the test certificate.</summary>
    public static string SnsNotification(SnsServer sns, string message, string messageId = "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        DateTimeOffset? timestamp = null, int version = 2, string? signature = null, string topic = ProviderSigning.SesTopic, string? certificateUrl = null)
    {
        var fields = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["Message"] = message,
            ["MessageId"] = messageId,
            ["Timestamp"] = (timestamp ?? DateTimeOffset.UtcNow).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            ["TopicArn"] = topic,
            ["Type"] = "Notification",
        };
        return Sns(fields, sns, version, signature, certificateUrl);
    }

    /// <summary>An SNS SubscriptionConfirmation, signed with the test certificate.</summary>
    public static string SnsSubscriptionConfirmation(SnsServer sns, string token = "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736")
    {
        var fields = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["Message"] = $"You have chosen to subscribe to the topic {ProviderSigning.SesTopic}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
            ["MessageId"] = "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            ["SubscribeURL"] = sns.SubscribeUrl(token),
            ["Timestamp"] = DateTimeOffset.UtcNow.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            ["Token"] = token,
            ["TopicArn"] = ProviderSigning.SesTopic,
            ["Type"] = "SubscriptionConfirmation",
        };
        return Sns(fields, sns, 2, null, null);
    }

    static string Sns(SortedDictionary<string, string> fields, SnsServer sns, int version, string? signature, string? certificateUrl)
    {
        var stringToSign = string.Concat(fields.Select(f => $"{f.Key}\n{f.Value}\n"));
        var message = new JsonObject();
        foreach (var (key, value) in fields)
        {
            message[key] = value;
        }

        message["SignatureVersion"] = version.ToString(CultureInfo.InvariantCulture);
        message["Signature"] = signature ?? ProviderSigning.SnsSignature(stringToSign, version);
        message["SigningCertURL"] = certificateUrl ?? sns.CertificateUrl;
        message["UnsubscribeURL"] = $"http://127.0.0.1:{sns.Port}/?Action=Unsubscribe&SubscriptionArn={ProviderSigning.SesTopic}:c9135db0";
        return message.ToJsonString();
    }

    // SNS posts text/plain by default
    public static HttpRequestMessage Ses(string body) => Request("ses", body, "text/plain; charset=UTF-8", [new("x-amz-sns-message-type", "Notification")]);

    static HttpRequestMessage Request(string provider, string body, string contentType, KeyValuePair<string, string>[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Route + provider) { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    public static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;
}
