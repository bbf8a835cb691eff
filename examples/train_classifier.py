"""PyTorch's "Training a Classifier" tutorial (CIFAR-10, the conv/pool/fc Net, CrossEntropyLoss,
SGD with momentum), ported to pycnn by changing the imports and nothing else in the model and
the training loop.  torchvision's place is taken by pycnn.datasets and pycnn.transforms (in
load_data).  Without --data-dir it runs on the bundled 8x8 digits resized to 32x32 and repeated
to 3 channels; with --data-dir it reads CIFAR-10 from there (cifar-10-batches-py or -bin).

    python examples/train_classifier.py --quick
    python examples/train_classifier.py --data-dir ~/data/cifar10 --epochs 2
"""
import argparse

import pycnn
import pycnn.nn as nn
import pycnn.nn.functional as F
import pycnn.optim as optim
from pycnn.utils.data import DataLoader, Subset


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = pycnn.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def load_data(args):
    """(trainset, testset, transform, classes): torchvision.datasets.CIFAR10 and its transforms in the
    tutorial; here pycnn's, whose transforms work on whole batches (DataLoader(transform=))."""
    from pycnn import datasets, transforms
    if args.data_dir:
        trainset = datasets.cifar10(args.data_dir, train=True)
        testset = datasets.cifar10(args.data_dir, train=False)
        transform = transforms.Compose([transforms.ToFloat(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
        classes = ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')
    else:
        split = datasets.digits(image_size=32)
        trainset, testset = split.train, split.test
        transform = transforms.Compose([transforms.Grayscale(3),  # the digits' one channel as three
                                        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
        classes = tuple(str(d) for d in range(10))
    return trainset, testset, transform, classes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="CIFAR-10's folder (default: the bundled digits)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a few seconds: 800 training images, 2 epochs")
    args = parser.parse_args(argv)
    pycnn.manual_seed(0)

    trainset, testset, transform, classes = load_data(args)
    log_every = 2000
    if args.quick:  # a larger step and batch on a subset: the figures move within seconds
        trainset = Subset(trainset, range(min(800, len(trainset))))
        testset = Subset(testset, range(min(400, len(testset))))
        args.epochs, args.batch_size, args.lr, log_every = 2, 16, 0.02, 25
    trainloader = DataLoader(trainset, batch_size=args.batch_size, shuffle=True, num_workers=args.num_workers,
                             transform=transform)
    testloader = DataLoader(testset, batch_size=args.batch_size, shuffle=False, num_workers=args.num_workers,
                            transform=transform)

    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)

    first_loss = last_loss = None
    for epoch in range(args.epochs):  # loop over the dataset multiple times
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            if i % log_every == log_every - 1:
                last_loss = running_loss / log_every
                first_loss = last_loss if first_loss is None else first_loss
                print(f'[{epoch + 1}, {i + 1:5d}] loss: {last_loss:.3f}')
                running_loss = 0.0
    print('Finished Training')

    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with pycnn.no_grad():
        for data in testloader:
            images, labels = data
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = pycnn.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()

    print(f'Accuracy of the network on the {total} test images: {100 * correct // total} %')
    print(f'first loss: {first_loss:.4f} final loss: {last_loss:.4f} accuracy: {100 * correct / total:.2f}%')


if __name__ == '__main__':
    main()
